/*
 * rtpload: plays both ends of N relayed calls' RTP, cheaply, to measure a media relay.
 *
 * Two UDP sockets stand for every call's caller and callee (a relay accepts packets from the
 * address the SDP announced, and the SDP of every call names the same two). Every 20 ms each
 * stream sends one 172-byte packet (12-byte RTP header, 160 bytes of G.711 silence): the caller
 * socket to the relay's caller port of each call (SSRC = call), the callee socket to the relay's
 * callee port (SSRC = N + call), with sendmmsg in batches. Packets come back relayed to the other
 * socket; recvmmsg reads them, and each stream's sequence numbers give loss, duplication and
 * reordering.
 *
 * Usage: rtpload SECONDS CALLER_PORT CALLEE_PORT < spec
 *   spec: one line per call, "RELAY_CALLER_PORT RELAY_CALLEE_PORT" (127.0.0.1).
 * Prints one JSON object: streams, sent, received, lost, duplicated, reordered, seconds (spent sending:
 * more than asked when this machine could not keep up), send_lag_ms (the worst tick's lateness).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PACKET 172
#define INTERVAL_NS 20000000L
#define BATCH 256

struct stream {
    struct sockaddr_in to;
    uint16_t seq;        /* next to send */
    uint32_t sent;
    uint32_t received;   /* unique */
    uint32_t duplicated;
    uint32_t reordered;
    int32_t highest;     /* highest sequence seen, -1 before the first */
    uint8_t *seen;       /* one bit per sequence number sent */
};

static struct stream *streams;
static long nstreams;
static uint32_t max_packets;

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000L + t.tv_nsec;
}

static int bind_socket(int port) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int size = 16 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "cannot bind 127.0.0.1:%d: %s\n", port, strerror(errno));
        exit(1);
    }
    return fd;
}

/* Sends one packet of every stream in [first, last) from fd. */
static void send_tick(int fd, long first, long last) {
    static uint8_t buffers[BATCH][PACKET];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    for (long s = first; s < last;) {
        int n = 0;
        for (; n < BATCH && s < last; n++, s++) {
            struct stream *st = &streams[s];
            if (st->sent >= max_packets) { n--; continue; }
            uint8_t *p = buffers[n];
            memset(p, 0xd5, PACKET); /* A-law silence */
            p[0] = 0x80; p[1] = 8;
            p[2] = st->seq >> 8; p[3] = st->seq & 0xff;
            uint32_t ts = (uint32_t)st->seq * 160, ssrc = (uint32_t)s;
            p[4] = ts >> 24; p[5] = ts >> 16; p[6] = ts >> 8; p[7] = ts;
            p[8] = ssrc >> 24; p[9] = ssrc >> 16; p[10] = ssrc >> 8; p[11] = ssrc;
            iov[n] = (struct iovec){.iov_base = p, .iov_len = PACKET};
            msgs[n] = (struct mmsghdr){.msg_hdr = {.msg_name = &st->to, .msg_namelen = sizeof st->to, .msg_iov = &iov[n], .msg_iovlen = 1}};
            st->seq++;
            st->sent++;
        }
        int done = 0;
        while (done < n) {
            int r = sendmmsg(fd, msgs + done, n - done, 0);
            if (r < 0) {
                if (errno == EAGAIN || errno == ENOBUFS) { struct pollfd p = {fd, POLLOUT, 0}; poll(&p, 1, 5); continue; }
                perror("sendmmsg");
                exit(1);
            }
            done += r;
        }
    }
}

static void receive(int fd) {
    static uint8_t buffers[BATCH][2048];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){.iov_base = buffers[i], .iov_len = sizeof buffers[i]};
            msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) return;
        for (int i = 0; i < n; i++) {
            uint8_t *p = buffers[i];
            if (msgs[i].msg_len < 12) continue;
            uint32_t ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
            if (ssrc >= (uint32_t)nstreams) continue;
            struct stream *st = &streams[ssrc];
            int32_t seq = p[2] << 8 | p[3];
            if ((uint32_t)seq >= max_packets) continue;
            if (st->seen[seq >> 3] & (1 << (seq & 7))) { st->duplicated++; continue; }
            st->seen[seq >> 3] |= 1 << (seq & 7);
            st->received++;
            if (seq < st->highest) st->reordered++;
            else st->highest = seq;
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: rtpload SECONDS CALLER_PORT CALLEE_PORT < spec\n");
        return 2;
    }
    double seconds = atof(argv[1]);
    int caller = bind_socket(atoi(argv[2])), callee = bind_socket(atoi(argv[3]));
    long calls = 0, cap = 1024;
    int *relay_caller = malloc(cap * sizeof *relay_caller), *relay_callee = malloc(cap * sizeof *relay_callee);
    int a, b;
    while (scanf("%d %d", &a, &b) == 2) {
        if (calls == cap) {
            cap *= 2;
            relay_caller = realloc(relay_caller, cap * sizeof *relay_caller);
            relay_callee = realloc(relay_callee, cap * sizeof *relay_callee);
        }
        relay_caller[calls] = a; relay_callee[calls] = b; calls++;
    }
    max_packets = (uint32_t)(seconds * 1e9 / INTERVAL_NS);
    if (max_packets > 65536) max_packets = 65536;
    nstreams = 2 * calls;
    streams = calloc(nstreams, sizeof *streams);
    for (long s = 0; s < nstreams; s++) {
        int port = s < calls ? relay_caller[s] : relay_callee[s - calls];
        streams[s].to = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(port)};
        inet_pton(AF_INET, "127.0.0.1", &streams[s].to.sin_addr);
        streams[s].highest = -1;
        streams[s].seen = calloc(max_packets / 8 + 1, 1);
    }
    int64_t start = now_ns(), next = start, worst_lag = 0;
    for (uint32_t tick = 0; tick < max_packets; tick++) {
        int64_t lag = now_ns() - next;
        if (lag > worst_lag) worst_lag = lag;
        send_tick(caller, 0, calls);
        send_tick(callee, calls, nstreams);
        next += INTERVAL_NS;
        receive(caller);
        receive(callee);
        /* Read what came back until the next tick. */
        while (now_ns() < next) {
            struct pollfd fds[2] = {{caller, POLLIN, 0}, {callee, POLLIN, 0}};
            int64_t wait = (next - now_ns()) / 1000000;
            if (poll(fds, 2, wait > 0 ? (int)wait : 0) > 0) {
                receive(caller);
                receive(callee);
            }
        }
    }
    double sending = (now_ns() - start) / 1e9;
    /* Let the last packets arrive. */
    int64_t drain = now_ns() + 500000000L;
    while (now_ns() < drain) {
        struct pollfd fds[2] = {{caller, POLLIN, 0}, {callee, POLLIN, 0}};
        if (poll(fds, 2, 50) > 0) { receive(caller); receive(callee); }
    }
    uint64_t sent = 0, received = 0, duplicated = 0, reordered = 0;
    for (long s = 0; s < nstreams; s++) {
        sent += streams[s].sent; received += streams[s].received;
        duplicated += streams[s].duplicated; reordered += streams[s].reordered;
    }
    printf("{\"calls\": %ld, \"streams\": %ld, \"sent\": %llu, \"received\": %llu, \"lost\": %llu, \"duplicated\": %llu, "
           "\"reordered\": %llu, \"seconds\": %.3f, \"send_lag_ms\": %.1f}\n",
           calls, nstreams, (unsigned long long)sent, (unsigned long long)received, (unsigned long long)(sent - received),
           (unsigned long long)duplicated, (unsigned long long)reordered, sending,
           worst_lag / 1e6);
    return 0;
}
