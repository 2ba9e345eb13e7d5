#!/usr/bin/env python3
"""CallTrack media relay benchmark with a light RTP load generator (bench/rtpload/rtpload.c), beside rtpengine.

Sets up N calls through CallTrack with a minimal SIP caller and callee written here (no media in
sipp: sipp with audio needs this machine's two cores by itself), then rtpload plays both ends of
every call's RTP (50 packets a second each way, G.711 size) for a while and counts loss,
duplication and reordering; CallTrack's relay threads' CPU is read from /proc. Runs each number
of calls with 1 and with 2 relay threads, and the same load through Debian's rtpengine (userspace,
`--num-threads` the same, calls set up over its ng protocol) for its CPU beside CallTrack's.
Prints a Markdown table; writes bench/results/relay-<timestamp>.md.
"""
import argparse, json, os, re, select, socket, subprocess, sys, tempfile, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from callbench import bench_config, free_ports, owned, save_results, start_calltrack  # noqa: E402
SIP, HTTP, UAC, UAS, NG = free_ports(5)
CALLER_MEDIA, CALLEE_MEDIA = free_ports(3)[::2]
CLK = os.sysconf("SC_CLK_TCK")


def build_rtpload(workdir):
    out = os.path.join(workdir, "rtpload")
    subprocess.run(["cc", "-O2", "-o", out, os.path.join(HERE, "rtpload", "rtpload.c")], check=True)
    return out


def build_dispatch_main(workdir):
    """The main-queue loop valgrind needs under a Swift async main (see the file)."""
    out = os.path.join(workdir, "dispatch_main.so")
    lib = "/opt/swift/usr/lib/swift/linux"
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", out, os.path.join(HERE, "valgrind", "dispatch_main.c"),
                    f"-L{lib}", f"-Wl,-rpath,{lib}", "-ldispatch"], check=True)
    return out


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def thread_cpu(pid, field=None):
    """CPU seconds per thread name of a process: user and system, or only "user" or "system"."""
    out = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            name = open(f"/proc/{pid}/task/{task}/comm").read().strip()
            fields = open(f"/proc/{pid}/task/{task}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks = {"user": int(fields[11]), "system": int(fields[12])}
        out[name] = out.get(name, 0) + (ticks[field] if field else sum(ticks.values())) / CLK
    return out


class CallTrack:
    def __init__(self, binary, workdir, relay_threads, callgrind=False):
        config = bench_config(workdir, SIP, HTTP, UAS, project="record: false",
                              sip=f"rtp_ports: {{min: 40000, max: 59999}}\nrtp_timeout_seconds: 300\ndrain_seconds: 1\n"
                                  f"relay_threads: {relay_threads}")
        wrap, env = (), {}
        if callgrind:
            # Valgrind 3.19 cannot read the DWARF 5 the Swift toolchain writes: a copy without it (symbols stay).
            stripped = os.path.join(workdir, "calltrack-nodebug")
            subprocess.run(["objcopy", "--strip-debug", binary, stripped], check=True)
            binary = stripped
            # Counting starts off; `callgrind_control --zero` and `--dump` bracket the media.
            self.profile = os.path.join(workdir, "callgrind.out")
            env = {"LD_PRELOAD": build_dispatch_main(workdir)}
            wrap = ("valgrind", "--tool=callgrind", "--separate-threads=yes", f"--callgrind-out-file={self.profile}")
        self.proc, self.log = start_calltrack(binary, workdir, config, HTTP, env=env, wrap=wrap,
                                              attempts=2000 if callgrind else 200)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def sdp(port):
    return (f"v=0\r\no=load 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n")


def message(first_line, headers, body=""):
    lines = [first_line] + [f"{k}: {v}" for k, v in headers] + [f"Content-Length: {len(body.encode())}", "", ""]
    return ("\r\n".join(lines) + body).encode()


def parse(data):
    text = data.decode(errors="replace")
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    return lines[0], headers, body


def media_port(body):
    m = re.search(r"^m=audio (\d+)", body, re.M)
    return int(m.group(1)) if m else None


class Signalling:
    """A minimal SIP caller (UAC) and callee (UAS) on loopback, for many calls at once."""

    def __init__(self):
        self.uac = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.uac.bind(("127.0.0.1", UAC))
        self.uas = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.uas.bind(("127.0.0.1", UAS))
        for s in (self.uac, self.uas):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.calls = {}        # call-id -> dict(relay_caller, to_tag, contact, state)
        self.relay_callee = []  # CallTrack's callee-side relay ports, one per forwarded INVITE
        self.answered_invites = {}

    def close(self):
        self.uac.close()
        self.uas.close()

    def invite(self, i):
        cid = f"load-{i}-{time.time_ns()}@127.0.0.1"
        self.calls[cid] = {"i": i, "state": "calling", "sent": time.monotonic()}
        self.send_invite(cid)

    def send_invite(self, cid):
        i = self.calls[cid]["i"]
        self.uac.sendto(message(f"INVITE sip:84990000001@127.0.0.1:{SIP} SIP/2.0", [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{UAC};branch=z9hG4bK-inv-{i}"), ("From", f"<sip:79160000000@127.0.0.1:{UAC}>;tag=a{i}"),
            ("To", f"<sip:84990000001@127.0.0.1:{SIP}>"), ("Call-ID", cid), ("CSeq", "1 INVITE"),
            ("Contact", f"<sip:79160000000@127.0.0.1:{UAC}>"), ("Max-Forwards", "70"), ("Content-Type", "application/sdp")],
            sdp(CALLER_MEDIA)), ("127.0.0.1", SIP))

    def bye(self, cid):
        c = self.calls[cid]
        self.uac.sendto(message(f"BYE {c['contact']} SIP/2.0", [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{UAC};branch=z9hG4bK-bye-{c['i']}"), ("From", f"<sip:79160000000@127.0.0.1:{UAC}>;tag=a{c['i']}"),
            ("To", f"<sip:84990000001@127.0.0.1:{SIP}>;tag={c['to_tag']}"), ("Call-ID", cid), ("CSeq", "2 BYE"),
            ("Max-Forwards", "70")]), ("127.0.0.1", SIP))
        c["state"] = "ending"

    def pump(self, timeout):
        ready, _, _ = select.select([self.uac, self.uas], [], [], timeout)
        for s in ready:
            while True:
                try:
                    data, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                (self.on_uac if s is self.uac else self.on_uas)(data, addr)
                s.setblocking(False)
            s.setblocking(True)

    def on_uac(self, data, addr):
        first, h, body = parse(data)
        if not first.startswith("SIP/2.0"):
            return
        code = int(first.split()[1])
        cid = h.get("call-id", [""])[0]
        c = self.calls.get(cid)
        if not c or code < 200:
            return
        if "INVITE" in h.get("cseq", [""])[0]:
            to_tag = re.search(r"tag=([^;>\s]+)", h["to"][0])
            contact = re.search(r"<([^>]+)>", h.get("contact", [""])[0])
            c["to_tag"] = to_tag.group(1) if to_tag else ""
            c["contact"] = contact.group(1) if contact else f"sip:127.0.0.1:{SIP}"
            self.uac.sendto(message(f"ACK {c['contact']} SIP/2.0", [
                ("Via", f"SIP/2.0/UDP 127.0.0.1:{UAC};branch=z9hG4bK-ack-{c['i']}"),
                ("From", f"<sip:79160000000@127.0.0.1:{UAC}>;tag=a{c['i']}"), ("To", h["to"][0]), ("Call-ID", cid),
                ("CSeq", "1 ACK"), ("Max-Forwards", "70")]), ("127.0.0.1", SIP))
            if code == 200 and c["state"] == "calling":
                c["relay_caller"] = media_port(body)
                c["state"] = "up"
            elif code != 200:
                c["state"] = f"failed {code}"
        elif "BYE" in h.get("cseq", [""])[0]:
            c["state"] = "ended"

    def on_uas(self, data, addr):
        first, h, body = parse(data)
        method = first.split()[0]
        if method in ("ACK",) or first.startswith("SIP/2.0"):
            return
        cid = h.get("call-id", [""])[0]
        to = h["to"][0]
        if method == "INVITE":
            tag = self.answered_invites.get(cid)
            if tag is None:
                tag = f"b{len(self.answered_invites)}"
                self.answered_invites[cid] = tag
                self.relay_callee.append(media_port(body))
            reply_body, extra = sdp(CALLEE_MEDIA), [("Contact", f"<sip:callee@127.0.0.1:{UAS}>"), ("Content-Type", "application/sdp")]
        else:
            tag, reply_body, extra = self.answered_invites.get(cid, "x"), "", []
        if "tag=" not in to:
            to += f";tag={tag}"
        headers = [("Via", v) for v in h.get("via", [])] + [("From", h["from"][0]), ("To", to), ("Call-ID", cid),
                                                             ("CSeq", h["cseq"][0])] + extra
        self.uas.sendto(message("SIP/2.0 200 OK", headers, reply_body), addr)


def callgrind_totals(profile):
    """Instructions per thread of the last dump: {thread number: Ir}."""
    totals = {}
    for name in os.listdir(os.path.dirname(profile)):
        m = re.match(re.escape(os.path.basename(profile)) + r"\.(\d+)-(\d+)$", name)
        if not m:
            continue
        for line in open(os.path.join(os.path.dirname(profile), name)):
            if line.startswith("totals:") or line.startswith("summary:"):
                totals[int(m.group(2))] = max(totals.get(int(m.group(2)), 0), int(line.split()[1]))
    return totals


def bencode(v):
    if isinstance(v, dict):
        return b"d" + b"".join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b"e"
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, int):
        return b"i%de" % v
    b = v.encode() if isinstance(v, str) else v
    return b"%d:%s" % (len(b), b)


class RTPEngine:
    """Debian's rtpengine in userspace (no kernel forwarding), told about each call over its ng
    control protocol directly (no SIP proxy), on loopback."""

    NG = NG

    def __init__(self, workdir, threads):
        args = ["rtpengine", "--interface=127.0.0.1", f"--listen-ng=127.0.0.1:{self.NG}", "--port-min=40000",
                "--port-max=59999", "--table=-1", "--foreground", "--log-stderr", "--log-level=4",
                f"--pidfile={workdir}/rtpengine.pid", f"--num-threads={threads}"]
        self.proc = owned(subprocess.Popen(args, stdout=open(f"{workdir}/rtpengine.log", "w"), stderr=subprocess.STDOUT,
                                           cwd=workdir))
        self.ng = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.ng.settimeout(5)
        self.cookie = 0
        time.sleep(1)

    def command(self, **fields):
        self.cookie += 1
        cookie = str(self.cookie).encode()
        self.ng.sendto(cookie + b" " + bencode(fields), ("127.0.0.1", self.NG))
        while True:
            data, _ = self.ng.recvfrom(65535)
            if data.startswith(cookie + b" "):
                text = data.decode(errors="replace")
                if "2:ok" not in text.split("result", 1)[-1][:12]:
                    raise SystemExit(f"rtpengine refused {fields.get('command')}: {text[:300]}")
                return text

    def call(self, i):
        """(the port the caller sends to, the port the callee sends to) of a new call."""
        cid = f"load-{i}"
        offer = self.command(command="offer", **{"call-id": cid, "from-tag": f"a{i}", "sdp": sdp(CALLER_MEDIA)})
        answer = self.command(command="answer", **{"call-id": cid, "from-tag": f"a{i}", "to-tag": f"b{i}", "sdp": sdp(CALLEE_MEDIA)})
        return media_port(answer), media_port(offer)

    def delete(self, i):
        self.command(command="delete", **{"call-id": f"load-{i}", "from-tag": f"a{i}"})

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_rtpengine(rtpload, workdir, calls, threads, seconds):
    engine = RTPEngine(workdir, threads)
    try:
        ports = [engine.call(i) for i in range(calls)]
        before = sum(thread_cpu(engine.proc.pid).values())
        before_user = sum(thread_cpu(engine.proc.pid, "user").values())
        out = subprocess.run([rtpload, str(seconds), str(CALLER_MEDIA), str(CALLEE_MEDIA)],
                             input="".join(f"{a} {b}\n" for a, b in ports).encode(), capture_output=True, check=True)
        cpu = sum(thread_cpu(engine.proc.pid).values()) - before
        user = sum(thread_cpu(engine.proc.pid, "user").values()) - before_user
        for i in range(calls):
            engine.delete(i)
        result = json.loads(out.stdout)
        result.update(relay=f"rtpengine, --num-threads={threads}", relay_threads=threads, relay_cpu=round(cpu, 2),
                      relay_user_cpu=round(user, 2),
                      calltrack_cpu="", packets_per_second=round(result["received"] / result["seconds"]),
                      relay_cpu_per_call_minute=round(cpu / (calls * result["seconds"] / 60), 4))
        return result
    finally:
        engine.stop()


def run(binary, rtpload, workdir, calls, relay_threads, seconds, setup_rate, callgrind=False):
    ct = CallTrack(binary, workdir, relay_threads, callgrind)
    sig = Signalling()
    try:
        idle_rss = rss_kib(ct.proc.pid)
        start = time.monotonic()
        for i in range(calls):
            sig.invite(i)
            while time.monotonic() < start + (i + 1) / setup_rate:
                sig.pump(0.002)
        deadline = time.monotonic() + 30
        while any(c["state"] == "calling" for c in sig.calls.values()) and time.monotonic() < deadline:
            sig.pump(0.05)
            for cid, c in sig.calls.items():
                if c["state"] == "calling" and time.monotonic() - c["sent"] > 2:
                    c["sent"] = time.monotonic()
                    sig.send_invite(cid)
        up = [c for c in sig.calls.values() if c["state"] == "up"]
        if len(up) != calls or len(sig.relay_callee) != calls:
            raise SystemExit(f"{len(up)} of {calls} calls up ({len(sig.relay_callee)} forwarded)")
        # rtpload needs no pairing of the two legs: each stream is one call leg's port.
        spec = "".join(f"{c['relay_caller']} {p}\n" for c, p in zip(up, sig.relay_callee))
        calls_rss = rss_kib(ct.proc.pid)
        before = thread_cpu(ct.proc.pid)
        before_user = thread_cpu(ct.proc.pid, "user")
        if callgrind:
            subprocess.run(["callgrind_control", "--zero", str(ct.proc.pid)], check=True, capture_output=True)
        out = subprocess.run([rtpload, str(seconds), str(CALLER_MEDIA), str(CALLEE_MEDIA)], input=spec.encode(),
                             capture_output=True, check=True)
        if ct.proc.poll() is not None:
            raise SystemExit(f"CallTrack exited during the load (status {ct.proc.returncode}): see {workdir}/calltrack.log")
        after = thread_cpu(ct.proc.pid)
        after_user = thread_cpu(ct.proc.pid, "user")
        result = json.loads(out.stdout)
        if callgrind:
            for old in os.listdir(workdir):
                if old.startswith("callgrind.out."):
                    os.remove(os.path.join(workdir, old))
            subprocess.run(["callgrind_control", "--dump", str(ct.proc.pid)], check=True, capture_output=True)
            totals = callgrind_totals(ct.profile)
            # The relay thread is the busiest; everything else (SIP timers, HTTP) is idle meanwhile.
            result.update(instructions_per_packet=round(sum(totals.values()) / max(1, result["received"])),
                          relay_thread_instructions_per_packet=round(max(totals.values(), default=0) / max(1, result["received"])))
        relay_cpu = sum(after.get(k, 0) - before.get(k, 0) for k in after if k.startswith("relay-"))
        relay_user = sum(after_user.get(k, 0) - before_user.get(k, 0) for k in after_user if k.startswith("relay-"))
        total_cpu = sum(after.values()) - sum(before.values())
        for cid in list(sig.calls):
            sig.bye(cid)
        deadline = time.monotonic() + 20
        while any(c["state"] == "ending" for c in sig.calls.values()) and time.monotonic() < deadline:
            sig.pump(0.05)
        result.update(kib_per_call=round((calls_rss - idle_rss) / calls, 1))
        result.update(relay="CallTrack", relay_threads=relay_threads, relay_cpu=round(relay_cpu, 2), relay_user_cpu=round(relay_user, 2),
                      calltrack_cpu=round(total_cpu, 2),
                      packets_per_second=round(result["received"] / result["seconds"]),
                      relay_cpu_per_call_minute=round(relay_cpu / (calls * result["seconds"] / 60), 4))
        return result
    finally:
        sig.close()
        ct.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=".build/release/calltrack")
    ap.add_argument("--calls", default="250,500,1000,1500,2000")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rtpengine", action=argparse.BooleanOptionalAction, default=True,
                    help="the same loads through rtpengine (userspace) too")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--setup-rate", type=int, default=200)
    ap.add_argument("--callgrind", type=int, metavar="CALLS",
                    help="instead: count instructions per relayed packet under valgrind's callgrind, with this many calls")
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="calltrack-relay-")
    subprocess.run(["sysctl", "-q", "-w", "net.core.rmem_max=33554432", "net.core.wmem_max=33554432"], check=False)
    rtpload = build_rtpload(workdir)
    if args.callgrind:
        r = run(args.binary, rtpload, workdir, args.callgrind, 1, args.seconds, 20, callgrind=True)
        print(json.dumps(r))
        print(f"{r['instructions_per_packet']} instructions per relayed packet in all ({r['relay_thread_instructions_per_packet']} "
              f"on the relay thread), {r['calls']} calls, {r['received']} packets relayed, lost {r['lost']}")
        return
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        for calls in [int(c) for c in args.calls.split(",")]:
            d = os.path.join(workdir, f"t{threads}-c{calls}")
            os.makedirs(d)
            r = run(args.binary, rtpload, d, calls, threads, args.seconds, args.setup_rate)
            rows.append(r)
            print(json.dumps(r), flush=True)
            if args.rtpengine:
                os.makedirs(d + "-rtpengine")
                r = run_rtpengine(rtpload, d + "-rtpengine", calls, threads, args.seconds)
                rows.append(r)
                print(json.dumps(r), flush=True)
    lines = ["| relay | threads | calls | packets sent | lost | duplicated | reordered | packets/s relayed | relay threads' CPU s | of it user space | relay CPU s per call-minute | CallTrack CPU s | CallTrack RSS KiB per call | generator's worst send lag ms |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['relay']} | {r['relay_threads']} | {r['calls']} | {r['sent']} | {r['lost']} | {r['duplicated']} | {r['reordered']} | "
                     f"{r['packets_per_second']} | {r['relay_cpu']} | {r['relay_user_cpu']} | {r['relay_cpu_per_call_minute']} | {r['calltrack_cpu']} | {r.get('kib_per_call', '')} | {r['send_lag_ms']} |")
    table = "\n".join(lines)
    path = save_results("relay", f"Relay benchmark, {args.seconds} s of RTP", table)
    print(f"written to {path}; work files in {workdir}")


if __name__ == "__main__":
    main()
