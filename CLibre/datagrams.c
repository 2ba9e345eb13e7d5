/*
 * Batched datagram I/O for the media relay: every packet waiting on a socket is read with one
 * recvmmsg into buffers a relay thread owns, and the ones that pass go out with one sendmmsg.
 * libre's own UDP receive path allocates, shrinks and frees a buffer per packet, which was
 * more than half of the relay's instructions per packet.
 */
#define _GNU_SOURCE
#include "CLibre.h"
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ct_datagrams {
	struct mmsghdr in[CT_DATAGRAMS];
	struct iovec in_vectors[CT_DATAGRAMS];
	struct sa sources[CT_DATAGRAMS];
	size_t lengths[CT_DATAGRAMS];
	uint8_t buffers[CT_DATAGRAMS][CT_DATAGRAM_SIZE];
	struct mmsghdr out[CT_DATAGRAMS];
	struct iovec out_vectors[CT_DATAGRAMS];
};

struct ct_datagrams *ct_datagrams_new(void)
{
	struct ct_datagrams *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	for (int i = 0; i < CT_DATAGRAMS; i++) {
		d->in_vectors[i].iov_base = d->buffers[i];
		d->in_vectors[i].iov_len = CT_DATAGRAM_SIZE;
		d->in[i].msg_hdr.msg_name = &d->sources[i].u;
		d->in[i].msg_hdr.msg_iov = &d->in_vectors[i];
		d->in[i].msg_hdr.msg_iovlen = 1;
		d->out[i].msg_hdr.msg_iov = &d->out_vectors[i];
		d->out[i].msg_hdr.msg_iovlen = 1;
	}
	return d;
}

void ct_datagrams_free(struct ct_datagrams *d)
{
	free(d);
}

/* The system calls themselves: libc's wrappers add thread-cancellation bookkeeping the relay
   threads, which are never cancelled, would pay on every packet. */
int ct_datagrams_read(struct ct_datagrams *d, int fd)
{
	for (int i = 0; i < CT_DATAGRAMS; i++)
		d->in[i].msg_hdr.msg_namelen = sizeof(d->sources[i].u);
	long n = syscall(SYS_recvmmsg, fd, d->in, CT_DATAGRAMS, MSG_DONTWAIT, NULL);
	if (n < 0)
		return 0;
	for (int i = 0; i < n; i++) {
		d->sources[i].len = d->in[i].msg_hdr.msg_namelen;
		/* A datagram longer than the buffer was cut: it is no RTP, and is not relayed. */
		d->lengths[i] = (d->in[i].msg_hdr.msg_flags & MSG_TRUNC) ? 0 : d->in[i].msg_len;
	}
	return (int)n;
}

const uint8_t *ct_datagram_bytes(const struct ct_datagrams *d, int i, size_t *length)
{
	*length = d->lengths[i];
	return d->buffers[i];
}

const struct sa *ct_datagram_source(const struct ct_datagrams *d, int i)
{
	return &d->sources[i];
}

int ct_datagrams_send(struct ct_datagrams *d, int fd, const struct sa *dst, uint32_t which)
{
	int count = 0;
	for (; which; which &= which - 1) {
		int i = __builtin_ctz(which);
		struct msghdr *h = &d->out[count].msg_hdr;
		h->msg_name = (void *)&dst->u;
		h->msg_namelen = dst->len;
		d->out_vectors[count].iov_base = d->buffers[i];
		d->out_vectors[count].iov_len = d->lengths[i];
		count++;
	}
	if (count == 0)
		return 0;
	long sent = syscall(SYS_sendmmsg, fd, d->out, count, MSG_DONTWAIT);
	return sent < 0 ? 0 : (int)sent;
}
