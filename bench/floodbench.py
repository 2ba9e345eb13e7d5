#!/usr/bin/env python3
"""CallTrack under attack: an INVITE flood from an untrusted address plus many idle HTTP connections.

Acceptance criterion measured: "Under a flood of 5,000 INVITEs per second from an untrusted address and
20,000 idle HTTP connections at once, while visitors take 100 reservations per second, a legitimate call set
up during the flood connects and carries audio both ways, /healthz answers, and CallTrack's peak memory stays
under 200 MB." The same legitimate call is placed once before anything starts, so that its setup time (INVITE
to 200 OK, from sipp's message log) during the flood stands beside the same call without it. The reservations
come from new visitors on one loopback address, so the per-address limits are raised for the run.

Starts its own `calltrack serve` on loopback (SIP and HTTP on free ports, RTP 30000-31999), so it does not clash
with `make run`. Writes every figure to --out as JSON, prints a summary, exits 0 only if the criterion held.
  python3 bench/floodbench.py --binary .build/release/calltrack [--invites-per-second 5000]
      [--idle-connections 20000] [--seconds 20] [--out bench/results/flood.json]
"""
import argparse, http.client, json, math, multiprocessing as mp, os, resource, selectors, signal, socket
import statistics, subprocess, sys, tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from callbench import free_ports, owned  # noqa: E402  (free ports, and what it starts stopped at the end)

PCAP = "/usr/share/sip-tester/g711a.pcap"  # 7 s of G.711 A-law, shipped with sipp
CLK = os.sysconf("SC_CLK_TCK")
SIP_PORT, HTTP_PORT, CALLEE_PORT, CALLER_PORT, CALLEE_MEDIA, CALLER_MEDIA = free_ports(6)
TOKEN = "bench-token"
FLOOD_SOURCE = "127.0.0.2"                             # not in the trunk's allow list: must be refused
HOLD_SOURCES = [f"127.0.0.{i}" for i in range(2, 10)]  # 8 source addresses x ~28k ephemeral ports each
PER_HOLDER = 5000                                      # well under the 20000 per-process fd hard limit
CALL_AT, CALL_SECONDS = 3.0, 5                         # the legitimate call starts 3 s into the flood

CONFIG = """\
sip:
  listen: [udp:127.0.0.1:{sip}]
  advertised_address: 127.0.0.1
  rtp_ports: {{min: 30000, max: 31999}}
  rtp_timeout_seconds: 60
  drain_seconds: 1
http:
  listen: 127.0.0.1:{http}
  reservations_per_minute: 100000000
tracking:
  max_numbers_per_address: 1000000
storage:
  database: {work}/calltrack.sqlite
  recordings: {work}/recordings
trunks:
  - name: bench
    allow: [127.0.0.1/32]
    proxy: sip:127.0.0.1:{callee}
projects:
  - key: flood
    name: Flood bench
    forward_to: sip:+74951234567@127.0.0.1:{callee}
    trunk: bench
    record: true
    pools:
      - name: main
        numbers: [{numbers}]
        static: "+74990000000"
"""


def hold_connections(index, count, stop, queue):
    """Child process: opens `count` TCP connections to the HTTP port and holds them without sending a byte.
    Non-blocking connects, 500 in flight: once CallTrack's accept queue is full, SYNs may go unanswered and a
    blocking connect() would sit in SYN retransmits for minutes."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sel = selectors.DefaultSelector()  # epoll: select() cannot watch more than 1024 fds
    connected = failed = closed = n = 0
    pending, started = {}, time.monotonic()

    def poll(timeout):
        nonlocal connected, failed, closed
        for key, _ in sel.select(timeout):
            s = key.fileobj
            if key.data == "held":     # readable: the server closed it (EOF/RST) or, unasked, sent something
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(s); s.close(); closed += 1
            elif s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                del pending[s]; connected += 1; sel.modify(s, selectors.EVENT_READ, "held")
            else:
                del pending[s]; sel.unregister(s); s.close(); failed += 1

    while (n < count or pending) and not stop.is_set():
        while n < count and len(pending) < 500:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((HOLD_SOURCES[(index * count + n) % len(HOLD_SOURCES)], 0))
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", HTTP_PORT))
                sel.register(s, selectors.EVENT_WRITE, "connecting")
                pending[s] = time.monotonic()
            except OSError:
                s.close(); failed += 1
            n += 1
        poll(0.2)
        for s, t in list(pending.items()):  # 10 s without a handshake: give up on it
            if time.monotonic() - t > 10:
                del pending[s]; sel.unregister(s); s.close(); failed += 1
    queue.put(dict(kind="opened", connected=connected, failed=failed + count - n, closed=closed,
                   seconds=round(time.monotonic() - started, 1)))
    while not stop.is_set():
        poll(0.5)
    queue.put(dict(kind="final", connected=connected, failed=failed + count - n, closed=closed))


def udp_drops(port):
    """Kernel drop counter of the UDP socket bound to `port` (last column of /proc/net/udp)."""
    for line in open("/proc/net/udp").read().splitlines()[1:]:
        f = line.split()
        if int(f[1].split(":")[1], 16) == port:
            return int(f[-1])
    return None


def server_side(port):
    """The kernel's view of CallTrack's HTTP port: established server-side sockets (accepted or waiting) and the
    accept queue (rx_queue of the LISTEN socket). A client can believe it is connected when the server side has
    nothing: with SYN cookies on, the handshake's last ACK is dropped while the accept queue is full."""
    established, queued = 0, None
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        f = line.split()
        if int(f[1].split(":")[1], 16) == port:
            if f[3] == "01":
                established += 1
            elif f[3] == "0A":
                queued = int(f[4].split(":")[1], 16)
    return dict(server_side_established=established, accept_queue=queued)


def flood(rate, seconds, go, queue):
    """Child process: well-formed INVITEs from FLOOD_SOURCE, paced in 2 ms batches, each with its own Call-ID,
    branch and From tag; counts what comes back (CallTrack's 403s and their retransmissions)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((FLOOD_SOURCE, 0))
    s.setblocking(False)
    port, run = s.getsockname()[1], os.getpid()
    sdp = (f"v=0\r\no=- 1 1 IN IP4 {FLOOD_SOURCE}\r\ns=-\r\nc=IN IP4 {FLOOD_SOURCE}\r\nt=0 0\r\n"
           "m=audio 40000 RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n")
    # A tracking number dialled from an address no trunk allows; %d (branch, tag, Call-ID) is a counter, so
    # building a datagram is one bytes % formatting.
    template = (f"INVITE sip:+74990000001@127.0.0.1:{SIP_PORT} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {FLOOD_SOURCE}:{port};branch=z9hG4bK{run}x%d;rport\r\nMax-Forwards: 70\r\n"
                f"From: <sip:+79160000000@{FLOOD_SOURCE}>;tag=f{run}x%d\r\nTo: <sip:+74990000001@127.0.0.1>\r\n"
                f"Call-ID: flood{run}x%d@{FLOOD_SOURCE}\r\nCSeq: 1 INVITE\r\n"
                f"Contact: <sip:+79160000000@{FLOOD_SOURCE}:{port}>\r\n"
                f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}").encode()
    target = ("127.0.0.1", SIP_PORT)
    sent = bytes_out = send_errors = responses = bytes_in = 0
    codes, per_call = {}, {}
    go.wait()
    start = time.monotonic()
    end = start + seconds

    def drain():
        nonlocal responses, bytes_in
        while True:
            try:
                data = s.recv(65535)
            except BlockingIOError:
                return
            except OSError:                   # e.g. an ICMP error surfacing on the socket: not a response
                continue
            responses += 1; bytes_in += len(data)
            code = data[8:11].decode(errors="replace")
            codes[code] = codes.get(code, 0) + 1
            i = data.find(b"Call-ID:")
            if i >= 0:
                cid = data[i + 8:data.find(b"\r\n", i)].strip()
                per_call[cid] = per_call.get(cid, 0) + 1

    while (now := time.monotonic()) < end:
        due = min(int((now - start) * rate) - sent, max(rate // 50, 1))  # catch up, but in bounded bursts
        for _ in range(due):
            msg = template % (sent, sent, sent)
            try:
                s.sendto(msg, target)
            except OSError:          # EAGAIN/ENOBUFS: the kernel pushed back; try again next batch
                send_errors += 1; break
            sent += 1; bytes_out += len(msg)
        drain()
        time.sleep(0.002)
    elapsed = time.monotonic() - start
    tail_end = time.monotonic() + 2          # late responses/retransmissions to the last INVITEs
    while time.monotonic() < tail_end:
        drain(); time.sleep(0.01)
    counts = sorted(per_call.values()) or [0]
    queue.put(dict(kind="flood", sent=sent, send_errors=send_errors, seconds=round(elapsed, 2), achieved_rate=round(sent / elapsed),
                   bytes_out=bytes_out, responses=responses, bytes_in=bytes_in, response_codes=codes,
                   invites_answered=len(per_call), responses_per_invite=round(responses / max(sent, 1), 2),
                   responses_per_answered_invite_median=counts[len(counts) // 2], responses_per_answered_invite_max=counts[-1],
                   amplification_bytes=round(bytes_in / max(bytes_out, 1), 2), flood_socket_kernel_drops=udp_drops(port)))


def proc_stat(pid):
    """(RSS MB, open fds, CPU seconds) of a live process, from /proc."""
    rss = next(int(l.split()[1]) / 1024 for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:"))
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return rss, len(os.listdir(f"/proc/{pid}/fd")), (int(fields[11]) + int(fields[12])) / CLK


def http_get(path, timeout=5, token=None):
    """A GET on a fresh connection; (status, body, seconds), status None on any failure."""
    t = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        r = conn.getresponse()
        return r.status, r.read(), time.monotonic() - t
    except (OSError, http.client.HTTPException):
        return None, b"", time.monotonic() - t
    finally:
        conn.close()


# The bench scenarios assume a lossless network. Under the flood CallTrack's SIP socket drops datagrams, so the
# legitimate call needs what a real phone does (RFC 3261 17): the callee answers a retransmitted INVITE again
# (sipp would abort the call as "unexpected"), and the caller ties responses to their transaction (sipp would
# take CallTrack's retransmitted 200 to the INVITE, sent because an ACK was lost, for the BYE's 200, stop
# retransmitting the BYE and leave the call up), re-ACKing such 200s.
PATCHES = {  # (old, new, occurrences to replace)
    "callee.xml": [('<send retrans="500">', '<label id="answer"/>\n  <send retrans="500">', 1),
                   ('<recv request="ACK"', '<recv request="INVITE" optional="true" next="answer"/>\n  <recv request="ACK"', 1)],
    "caller.xml": [('<send retrans="500">', '<send retrans="500" start_txn="invite">', 1),
                   ('<recv response="', '<recv response_txn="invite" response="', 4),  # 100, 180, 183, 200
                   ('<send>', '<send ack_txn="invite">', 1),
                   ('<send retrans="500">', '<send retrans="500" start_txn="bye">', 1),
                   ('<recv response="200" crlf="true"/>', '<recv response="200" crlf="true" response_txn="bye"/>', 1)],
}


def scenario(name, workdir):
    """bench/scenarios/<name>, patched as above, with sipp's pcap played at the AUDIO marker."""
    text = open(os.path.join(HERE, "scenarios", name)).read()
    for old, new, count in PATCHES[name]:
        if text.count(old) < count:
            raise RuntimeError(f"bench/scenarios/{name} changed: {old!r} is gone; update PATCHES")
        text = text.replace(old, new, count)
    path = os.path.join(workdir, name)
    open(path, "w").write(text.replace("<!--AUDIO-->", f'<nop><action><exec play_pcap_audio="{PCAP}"/></action></nop>'))
    return path


def legitimate_call(workdir):
    """One call from 127.0.0.1 (allowed) to a tracking number; both sides play audio. Returns sipp's view."""
    common = ["-nostdin", "-timeout", "60s", "-m", "1", "-trace_err", "-trace_shortmsg"]
    for old in [f for f in os.listdir(workdir) if f.endswith("_shortmessages.log")]:
        os.remove(os.path.join(workdir, old))
    callee = owned(subprocess.Popen(["sipp", "-sf", scenario("callee.xml", workdir), "-i", "127.0.0.1", "-p", str(CALLEE_PORT),
                               "-mi", "127.0.0.1", "-mp", str(CALLEE_MEDIA), "-error_file", f"{workdir}/callee-err.log"] + common,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir))
    time.sleep(0.3)
    t = time.monotonic()
    caller = owned(subprocess.Popen(["sipp", "-sf", scenario("caller.xml", workdir), "-i", "127.0.0.1", "-p", str(CALLER_PORT),
                               "-mi", "127.0.0.1", "-mp", str(CALLER_MEDIA), "-s", "84990000001", "-d", str(CALL_SECONDS * 1000),
                               "-error_file", f"{workdir}/caller-err.log", f"127.0.0.1:{SIP_PORT}"] + common,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir))
    result = {}
    try:
        for name, p in (("caller", caller), ("callee", callee)):
            try:
                result[f"sipp_{name}_exit"] = p.wait(timeout=70)   # sipp exits 0 when its call succeeded
            except subprocess.TimeoutExpired:
                result[f"sipp_{name}_exit"] = "killed"
    finally:                                          # never leave a sipp behind, even on Ctrl-C
        for p in (caller, callee):
            if p.poll() is None:
                p.kill(); p.wait()
    result["sipp_seconds"] = round(time.monotonic() - t, 1)
    result["setup_ms"] = setup_ms(workdir)
    return result


def setup_ms(workdir):
    """The caller's first INVITE to the 200 OK answering it, from sipp's short message log."""
    sent = answered = None
    for name in os.listdir(workdir):
        if name.startswith("caller") and name.endswith("_shortmessages.log"):
            for line in open(os.path.join(workdir, name), errors="replace"):
                f = line.rstrip("\n").split("\t")
                if len(f) < 7 or not f[5].endswith("INVITE"):
                    continue
                if f[3] == "S" and f[6].startswith("INVITE") and sent is None:
                    sent = float(f[2])
                elif f[3] == "R" and f[6].startswith("SIP/2.0 200") and answered is None:
                    answered = float(f[2])
    return round((answered - sent) * 1000, 1) if sent and answered else None


def visitors(rate, stop, out):
    """New visitors taking numbers at `rate` per second (each request on a schedule, on a few threads so
    that a slow answer does not slow the pace): their statuses and latencies."""
    lock, begun = threading.Lock(), time.monotonic()
    counter = iter(range(10 ** 9))

    def one():
        while not stop.is_set():
            with lock:
                n = next(counter)
            due = begun + n / rate
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
            body = json.dumps({"client_id": f"flood-visitor-{n}", "page": "http://shop.test/?utm_source=google&utm_medium=cpc"})
            t = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=5)
            try:
                conn.request("POST", "/v1/projects/flood/reservations", body=body, headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                reply = r.read()
                ok = r.status == 200 and b"reservation_id" in reply
                out.append((r.status if ok or r.status != 200 else "static", time.monotonic() - t))
            except (OSError, http.client.HTTPException):
                out.append((None, time.monotonic() - t))
            finally:
                conn.close()
    threads = [threading.Thread(target=one, daemon=True) for _ in range(8)]
    for th in threads:
        th.start()
    return threads


def call_record():
    """The newest call record, once it is final (the record writer stores events in batches)."""
    record = None
    for _ in range(20):
        status, body, _ = http_get("/v1/calls?limit=1", token=TOKEN)
        if status == 200 and json.loads(body)["calls"]:
            record = json.loads(body)["calls"][0]
            if record["status"] != "in_progress":
                break
        time.sleep(0.5)
    if record is None:
        return dict(status=None)
    media = record.get("media") or {}
    return dict(status=record["status"], sip_code=record.get("sip_code"), end_reason=record.get("end_reason"),
                talk_seconds=record.get("talk_seconds"), recording=(record.get("recording") or {}).get("status"),
                caller_to_callee_packets=(media.get("caller_to_callee") or {}).get("packets", 0),
                callee_to_caller_packets=(media.get("callee_to_caller") or {}).get("packets", 0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--invites-per-second", type=int, default=5000)
    ap.add_argument("--idle-connections", type=int, default=20000)
    ap.add_argument("--seconds", type=int, default=20, help="flood duration; the call needs about 10 of them")
    ap.add_argument("--reservations-per-second", type=int, default=100)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "flood.json"))
    args = ap.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"{args.binary} is not an executable (being rebuilt? try again in a minute)")
    if args.seconds < CALL_AT + CALL_SECONDS + 2:
        sys.exit(f"--seconds must be at least {CALL_AT + CALL_SECONDS + 2:.0f}: the call runs inside the flood")
    workdir = tempfile.mkdtemp(prefix="calltrack-flood-")
    config = os.path.join(workdir, "flood.yaml")
    numbers = ", ".join(f'"+749900{i:05d}"' for i in range(1, 3001))
    open(config, "w").write(CONFIG.format(sip=SIP_PORT, http=HTTP_PORT, callee=CALLEE_PORT, work=workdir, numbers=numbers))
    log = open(os.path.join(workdir, "calltrack.log"), "w")
    env = dict(os.environ, CALLTRACK_ADMIN_TOKENS=TOKEN)   # log level: CallTrack's default unless the caller sets one
    ct = owned(subprocess.Popen([os.path.abspath(args.binary), "serve", "--config", config], env=env, stdout=log, stderr=log))
    report = dict(binary=os.path.abspath(args.binary), started=time.strftime("%Y-%m-%dT%H:%M:%S%z"), workdir=workdir,
                  invites_per_second=args.invites_per_second, idle_connections=args.idle_connections, flood_seconds=args.seconds)
    ctx = mp.get_context("fork")
    stop, go, queue = ctx.Event(), ctx.Event(), ctx.Queue()
    children, samples, polls = [], [], []
    done = threading.Event()
    try:
        deadline = time.monotonic() + 10              # 10 s for CallTrack to come up
        while http_get("/healthz", timeout=1)[0] != 200:
            if ct.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"calltrack did not start; see {log.name}")
            time.sleep(0.1)
        report["calltrack_fd_limit"] = next(l.split()[3:5] for l in open(f"/proc/{ct.pid}/limits") if l.startswith("Max open files"))
        # 0. The legitimate call alone, for its setup time without the flood.
        quiet = legitimate_call(workdir)
        quiet.update(call_record())
        report["call_without_flood"] = quiet
        print(f"call without the flood: {quiet}", flush=True)
        base = proc_stat(ct.pid)
        report["baseline"] = dict(rss_mb=round(base[0], 1), fds=base[1])

        def sampler():                                # RSS and fds every 500 ms, for the whole run
            while not done.is_set():
                try:
                    samples.append((time.monotonic(),) + proc_stat(ct.pid))
                except (OSError, StopIteration):
                    break
                done.wait(0.5)
        threading.Thread(target=sampler, daemon=True).start()

        # 1. Idle connections, from ceil(N / 5000) processes (fd limit per process).
        holders = math.ceil(args.idle_connections / PER_HOLDER)
        for i in range(holders):
            share = args.idle_connections // holders + (1 if i < args.idle_connections % holders else 0)
            children.append(ctx.Process(target=hold_connections, args=(i, share, stop, queue), daemon=True))
        children.append(ctx.Process(target=flood, args=(args.invites_per_second, args.seconds, go, queue), daemon=True))
        inbox, t_open = [], time.monotonic()
        for c in children:
            c.start()

        def collect(kind, count, timeout):            # the children's reports, without hanging on a dead child
            deadline = time.monotonic() + timeout
            while sum(m["kind"] == kind for m in inbox) < count:
                if any(c.exitcode not in (None, 0) for c in children) or time.monotonic() > deadline:
                    raise RuntimeError(f"no {kind!r} report: a child process died or hung")
                try:
                    inbox.append(queue.get(timeout=1))
                except Exception:                     # queue.Empty
                    pass
            return [m for m in inbox if m["kind"] == kind]

        opened = collect("opened", holders, 300)
        report["idle_open"] = {k: sum(o[k] for o in opened) for k in ("connected", "failed", "closed")}
        report["idle_open"]["seconds"] = round(time.monotonic() - t_open, 1)
        # CallTrack may accept more slowly than the clients connect: give it up to 30 s to catch up (until
        # its fd count holds still for 2 s), so the flood starts with the connections really in place.
        last, still = -1, time.monotonic()
        while time.monotonic() - t_open < report["idle_open"]["seconds"] + 30 and time.monotonic() - still < 2:
            fds = proc_stat(ct.pid)[1]
            if fds != last:
                last, still = fds, time.monotonic()
            time.sleep(0.25)
        rss, fds, _ = proc_stat(ct.pid)
        report["idle_open"].update(settled_after=round(time.monotonic() - t_open, 1), calltrack_sockets=fds - base[1],
                                   rss_mb_before_flood=round(rss, 1), **server_side(HTTP_PORT))
        print(f"idle connections: {report['idle_open']}", flush=True)

        # 2. The flood, with /healthz polled every 500 ms (each poll on its own thread, so a stuck one
        #    does not hide the next) and the legitimate call 3 s in.
        cpu0, t0 = proc_stat(ct.pid)[2], time.monotonic()
        report["flood_started_at"] = round(t0 - samples[0][0], 1) if samples else None  # on the samples' clock
        go.set()
        reservations, stop_visitors = [], threading.Event()
        visitor_threads = visitors(args.reservations_per_second, stop_visitors, reservations)

        def poll_once():
            status, _, seconds = http_get("/healthz", timeout=5)
            polls.append((status, seconds))
        pollers = []

        def poll_loop():
            while time.monotonic() - t0 < args.seconds:
                th = threading.Thread(target=poll_once, daemon=True); th.start(); pollers.append(th)
                time.sleep(0.5)
        (poll_thread := threading.Thread(target=poll_loop, daemon=True)).start()
        time.sleep(CALL_AT)
        call = legitimate_call(workdir)
        call.update(call_record())                    # read while the flood still runs, if it still does
        report["call"] = call
        print(f"call: {call}", flush=True)
        poll_thread.join()                            # returns when the flood's time is up
        stop_visitors.set()
        for th in visitor_threads:
            th.join()
        took = sorted(t for st, t in reservations if st == 200)
        report["reservations"] = dict(
            asked_per_second=args.reservations_per_second, sent=len(reservations),
            per_second=round(len(reservations) / (time.monotonic() - t0), 1), numbers=len(took),
            static=sum(st == "static" for st, _ in reservations),
            failed=[st for st, _ in reservations if st not in (200, "static")][:20],
            p50_ms=round(took[len(took) // 2] * 1000, 1) if took else None,
            p99_ms=round(took[int(len(took) * 0.99)] * 1000, 1) if took else None)
        print(f"reservations: {report['reservations']}", flush=True)
        report["calltrack_cpu_seconds_during_flood"] = round(proc_stat(ct.pid)[2] - cpu0, 2)
        for th in pollers:
            th.join()
        report["flood"] = collect("flood", 1, 60)[0]
        report["sip_socket_kernel_drops"] = udp_drops(SIP_PORT)
        report["idle_after_flood"] = server_side(HTTP_PORT)
        status, body, _ = http_get("/metrics")        # CallTrack's own counters, for the record
        report["metrics"] = dict(l.rsplit(" ", 1) for l in body.decode(errors="replace").splitlines()
                                 if l.startswith("calltrack_")) if status == 200 else None
        ok_lat = sorted(s for st, s in polls if st == 200)
        report["healthz"] = dict(polls=len(polls), ok=len(ok_lat),
                                 failed_statuses=[st for st, _ in polls if st != 200],
                                 median_ms=round(statistics.median(ok_lat) * 1000, 1) if ok_lat else None,
                                 max_ms=round(max(s for _, s in polls) * 1000, 1) if polls else None)

        # 3. How many idle connections survived.
        stop.set()
        finals = collect("final", holders, 30)
        report["idle_final"] = dict(connected=sum(f["connected"] for f in finals), failed=sum(f["failed"] for f in finals),
                                    closed_by_server=sum(f["closed"] for f in finals))
    except Exception as e:                            # report what was measured up to here, and why it stopped
        report["error"] = repr(e)
        print(f"run aborted: {e!r}", flush=True)
    finally:
        done.set(); stop.set()
        if ct.poll() is None:                         # the kernel's own high-water mark of CallTrack's memory
            report["peak_rss_mb"] = round(next(int(l.split()[1]) / 1024 for l in open(f"/proc/{ct.pid}/status")
                                               if l.startswith("VmHWM:")), 1)
        if samples:                                   # (seconds, RSS MB, fds)
            report["max_rss_mb"], report["max_fds"] = round(max(s[1] for s in samples), 1), max(s[2] for s in samples)
            report["samples"] = [(round(t - samples[0][0], 1), round(r, 1), f) for t, r, f, _ in samples]
        for c in children:
            c.join(timeout=5)
            if c.is_alive():
                c.kill()
        if ct.poll() is None:
            ct.send_signal(signal.SIGTERM)
            try:
                report["calltrack_exit"] = ct.wait(timeout=30)
            except subprocess.TimeoutExpired:
                ct.kill(); ct.wait(); report["calltrack_exit"] = "killed after 30 s"
        else:
            report["calltrack_exit"] = f"died during the run ({ct.returncode})"
        log.close()
        report["calltrack_log_bytes"] = os.path.getsize(log.name)

    call, hz, f = report.get("call", {}), report.get("healthz", {"polls": 0, "ok": 0}), report.get("flood", {})
    io, op, rv = report.get("idle_final", {}), report.get("idle_open", {}), report.get("reservations", {})
    checks = dict(call_answered=call.get("status") == "answered",
                  audio_both_ways=call.get("caller_to_callee_packets", 0) > 50 and call.get("callee_to_caller_packets", 0) > 50,
                  healthz_always_answered=hz["polls"] > 0 and hz["ok"] == hz["polls"],
                  rss_under_200mb=report.get("peak_rss_mb", 1e9) < 200,
                  reservations_answered=bool(report.get("reservations")) and not report["reservations"]["failed"]
                  and report["reservations"]["per_second"] >= 0.9 * args.reservations_per_second,
                  calltrack_survived=isinstance(report.get("calltrack_exit"), int), run_completed="error" not in report)
    report["checks"], report["passed"] = checks, all(checks.values())
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    json.dump(report, open(args.out, "w"), indent=1)
    g = lambda d, *keys: " ".join(str(d.get(k, "?")) for k in keys)  # a missing figure prints as "?"
    print(f"""
flood      {g(f, 'sent')} INVITEs in {g(f, 'seconds')} s = {g(f, 'achieved_rate')}/s (asked {args.invites_per_second}/s), send errors {g(f, 'send_errors')}
           {g(f, 'responses')} responses {g(f, 'response_codes')} to {g(f, 'invites_answered')} INVITEs: {g(f, 'responses_per_invite')} per INVITE sent, \
up to {g(f, 'responses_per_answered_invite_max')} for one; bytes in/out {g(f, 'amplification_bytes')}; kernel drops at CallTrack's SIP socket {g(report, 'sip_socket_kernel_drops')}
idle HTTP  {g(op, 'connected')} connected (client view), {g(op, 'failed')} failed, {g(op, 'closed')} closed, in {g(op, 'seconds')} s; \
before the flood CallTrack held {g(op, 'calltrack_sockets')} sockets,
           kernel: {g(op, 'server_side_established')} established, {g(op, 'accept_queue')} in the accept queue; \
{g(io, 'closed_by_server')} closed by the server in all
call       {g(call, 'status')} (sip {g(call, 'sip_code')}, {g(call, 'end_reason')}), packets caller->callee {g(call, 'caller_to_callee_packets')}, \
callee->caller {g(call, 'callee_to_caller_packets')},
           talk {g(call, 'talk_seconds')} s (caller hung up after {CALL_SECONDS} s), sipp caller exit {g(call, 'sipp_caller_exit')}
           setup (INVITE to 200 OK) {g(call, 'setup_ms')} ms during the flood, {g(report.get('call_without_flood', {}), 'setup_ms')} ms without it
visitors   {g(rv, 'sent')} reservations at {g(rv, 'per_second')}/s (asked {g(rv, 'asked_per_second')}/s): {g(rv, 'numbers')} numbers, {g(rv, 'static')} static, failed {g(rv, 'failed')}, p50 {g(rv, 'p50_ms')} ms, p99 {g(rv, 'p99_ms')} ms
/healthz   {g(hz, 'ok')}/{g(hz, 'polls')} answered 200, median {g(hz, 'median_ms')} ms, max {g(hz, 'max_ms')} ms
calltrack  peak RSS {g(report, 'peak_rss_mb')} MB (VmHWM; sampled max {g(report, 'max_rss_mb')} MB), max fds {g(report, 'max_fds')} (limit {g(report, 'calltrack_fd_limit')}), \
CPU {g(report, 'calltrack_cpu_seconds_during_flood')} s over the flood, log {g(report, 'calltrack_log_bytes')} bytes, exit {g(report, 'calltrack_exit')}
{'PASS' if report['passed'] else 'FAIL'}: {', '.join(k for k, v in checks.items() if not v) or 'all checks held'}; written to {args.out}""")
    sys.exit(0 if report["passed"] else 1)


if __name__ == "__main__":
    main()
