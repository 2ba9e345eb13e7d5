#!/usr/bin/env python3
"""CallTrack call benchmarks: the same sipp load through CallTrack and straight from caller to callee.

Measures, on this machine:
  1. call setup rate: the highest calls/second (short calls, no audio) that completes with zero failures;
  2. concurrent relayed calls with G.711 audio both ways, and CallTrack's CPU seconds per call-minute;
  3. many concurrent calls with idle media (sockets and fds, not CPU).
Prints a Markdown table; writes bench/results/calls-<timestamp>.md.
"""
import argparse, atexit, glob, json, os, random, resource, shutil, signal, socket, struct, subprocess, sys, tempfile, time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))

# Every process a benchmark starts is stopped when the script ends, however it ends (an exception, a
# failed check, Ctrl-C, SIGTERM): nothing is left running to hold ports or CPU for the next run.
STARTED = []


def owned(proc):
    """`proc`, stopped when this script ends."""
    STARTED.append(proc)
    return proc


def _stop_started():
    for proc in STARTED:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


atexit.register(_stop_started)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def free_ports(count):
    """`count` consecutive loopback ports that nothing holds now, TCP and UDP, from a random place
    between 20000 and 29999: a port another program holds never fails a run. Below 30000, where the
    benchmarks' CallTrack relays media (a peer's media port there would be CallTrack's own, and refused
    with 488), and below the kernel's ephemeral range."""
    def bindable(port):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
            finally:
                s.close()
        return True
    for _ in range(500):
        base = random.randrange(20000, 30000 - count)
        if all(bindable(p) for p in range(base, base + count)):
            return list(range(base, base + count))
    raise SystemExit("no free block of ports on 127.0.0.1")


# This script's SIP, HTTP, callee and caller ports, and sipp's media ports (callee, caller).
SIP, HTTP, CALLEE, CALLER, CALLEE_MEDIA, CALLER_MEDIA = free_ports(6)
PCAP = "/usr/share/sip-tester/g711a.pcap"
CLK = os.sysconf("SC_CLK_TCK")


def long_pcap(seconds, workdir):
    """Repeats sipp's G.711 pcap for `seconds`, continuing RTP sequence numbers and timestamps,
    so that audio flows for the whole call instead of the sample's 7 s."""
    data = open(PCAP, "rb").read()
    header, packets, off = data[:24], [], 24
    while off + 16 <= len(data):
        sec, usec, cap, orig = struct.unpack("<IIII", data[off:off + 16])
        packets.append((sec + usec / 1e6, bytearray(data[off + 16:off + 16 + cap])))
        off += 16 + cap
    t0 = packets[0][0]
    span = packets[-1][0] - t0 + (packets[1][0] - packets[0][0])
    rtp = 14 + 20 + 8  # Ethernet + IPv4 + UDP
    seq0, ts0 = struct.unpack(">HI", bytes(packets[0][1][rtp + 2:rtp + 8]))
    seq_span = len(packets)
    ts_span = struct.unpack(">I", bytes(packets[-1][1][rtp + 4:rtp + 8]))[0] - ts0 + 240
    out = bytearray(header)
    loops = int(seconds / span) + 1
    for k in range(loops):
        for t, pkt in packets:
            when = (t - t0) + k * span
            if when > seconds:
                break
            p = bytearray(pkt)
            seq, ts = struct.unpack(">HI", bytes(p[rtp + 2:rtp + 8]))
            p[rtp + 2:rtp + 8] = struct.pack(">HI", (seq + k * seq_span) & 0xFFFF, (ts + k * ts_span) & 0xFFFFFFFF)
            p[14 + 20 + 6:14 + 20 + 8] = b"\x00\x00"  # no UDP checksum
            out += struct.pack("<IIII", int(when), int((when % 1) * 1e6), len(p), len(p)) + p
    path = os.path.join(workdir, f"g711a-{seconds}s.pcap")
    open(path, "wb").write(out)
    return path


def scenario(name, audio_pcap, workdir):
    text = open(os.path.join(HERE, "scenarios", name)).read()
    path = os.path.join(workdir, ("audio-" if audio_pcap else "") + name)
    audio = f'<nop><action><exec play_pcap_audio="{audio_pcap}"/></action></nop>' if audio_pcap else ""
    open(path, "w").write(text.replace("<!--AUDIO-->", audio))
    return path


def cpu_seconds(pid):
    """utime + stime of a process (and its reaped children), from /proc."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / CLK


ONE_NUMBER = '[{name: main, numbers: ["+74990000001"], static: "+74990000000"}]'


def bench_config(workdir, sip_port, http_port, callee_port, sip="", http="", project="", sections="", pools=ONE_NUMBER,
                 name="bench", storage=None):
    """Writes the config every benchmark starts from and returns its path: SIP and HTTP on loopback,
    one trunk from 127.0.0.1 and one project that forwards to the callee on `callee_port`. `sip`,
    `http` and `project` are extra lines for those sections, `sections` whole extra sections, `storage`
    the storage block's lines (a SQLite file in the work folder by default)."""
    def lines(text, indent):
        return "".join(f"\n{indent}{line}" for line in text.strip().splitlines())
    path = os.path.join(workdir, f"{name}.yaml")
    open(path, "w").write(f"""
sip:
  listen: [udp:127.0.0.1:{sip_port}]{lines(sip, "  ")}
http:
  listen: 127.0.0.1:{http_port}{lines(http, "  ")}
storage:{lines(storage or f"database: {workdir}/{name}.sqlite", "  ")}
  recordings: {workdir}/recordings
{sections.strip()}
trunks:
  - name: bench
    allow: [127.0.0.1/32]
    proxy: sip:127.0.0.1:{callee_port}
projects:
  - key: bench
    forward_to: sip:+74951234567@127.0.0.1:{callee_port}
    trunk: bench{lines(project, "    ")}
    pools: {pools}
""")
    return path


def start_calltrack(binary, workdir, config, http_port, env=None, wrap=(), attempts=200):
    """Starts `calltrack serve` (under `wrap`, valgrind say) with the benchmark's admin token and
    its log in the work folder, and waits for /healthz: (process, log file)."""
    env = dict(os.environ, CALLTRACK_ADMIN_TOKENS="bench", CALLTRACK_LOG_LEVEL="warning", **(env or {}))
    log = open(os.path.join(workdir, "calltrack.log"), "w")
    proc = owned(subprocess.Popen(list(wrap) + [binary, "serve", "--config", config], env=env, stdout=log, stderr=log))
    for _ in range(attempts):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=1)
            return proc, log
        except Exception:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"calltrack did not start: see {log.name}")


class CallTrack:
    def __init__(self, binary, workdir, sip_port=SIP, http_port=HTTP, callee_port=CALLEE, record=False):
        self.http_port = http_port
        self.recordings = os.path.join(workdir, "recordings")
        config = bench_config(workdir, sip_port, http_port, callee_port,
                              sip="rtp_ports: {min: 30000, max: 49999}\nrtp_timeout_seconds: 120\ndrain_seconds: 1",
                              project=f"ring_timeout_seconds: 30\nrecord: {'true' if record else 'false'}")
        self.proc, self.log = start_calltrack(binary, workdir, config, http_port)

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def rss_mib(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0

    def calls(self):
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port}/v1/calls?limit=1", headers={"Authorization": "Bearer bench"})
        return json.load(urllib.request.urlopen(req))

    def recorded_bytes(self):
        total = 0
        for folder, _, files in os.walk(self.recordings):
            total += sum(os.path.getsize(os.path.join(folder, f)) for f in files if f.endswith(".wav"))
        return total

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def save_results(prefix, title, table):
    """Prints the Markdown table and writes it to bench/results/<prefix>-<timestamp>.md under `title`."""
    print(table)
    out = os.path.join(HERE, "results")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, time.strftime(f"{prefix}-%Y%m%d-%H%M%S.md"))
    open(path, "w").write(f"# {title}, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores\n\n{table}\n")
    return path


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_load(target_port, callee_port, workdir, calls, rate, concurrent, hold_ms, audio, tag, caller_args=()):
    """Runs a sipp callee and caller; returns (successful calls, failed calls, wall seconds, sipp CPU seconds).
    The caller's files (stats, and with caller_args such as -trace_rtt its other traces) stay in workdir/tag."""
    sipp_cpu0 = children_cpu()
    base = os.path.join(workdir, tag)
    os.makedirs(base, exist_ok=True)
    common = ["-nostdin", "-trace_stat", "-max_socket", "4096", "-timeout", "300s"]
    callee = owned(subprocess.Popen(["sipp", "-sf", scenario("callee.xml", audio, workdir), "-i", "127.0.0.1", "-p", str(callee_port),
                               "-mi", "127.0.0.1", "-mp", str(CALLEE_MEDIA), "-m", str(calls), "-stf", f"{base}/callee.csv",
                               "-trace_err", "-error_file", f"{base}/callee-err.log"] + common,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=base))
    time.sleep(0.3)
    start = time.monotonic()
    caller = owned(subprocess.Popen(["sipp", "-sf", scenario("caller.xml", audio, workdir), "-i", "127.0.0.1", "-p", str(CALLER),
                               "-mi", "127.0.0.1", "-mp", str(CALLER_MEDIA), "-s", "84990000001", "-m", str(calls), "-r", str(rate),
                               "-l", str(concurrent), "-d", str(hold_ms), "-stf", f"{base}/caller.csv",
                               "-trace_err", "-error_file", f"{base}/caller-err.log", f"127.0.0.1:{target_port}"] + common
                              + list(caller_args),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=base))
    caller.wait()
    wall = time.monotonic() - start
    try:
        callee.wait(timeout=20)
    except subprocess.TimeoutExpired:
        callee.kill()
    ok, failed = 0, 0
    stats = open(f"{base}/caller.csv").read().strip().splitlines()
    if len(stats) >= 2:
        head = stats[0].split(";")
        last = stats[-1].split(";")
        ok = int(last[head.index("SuccessfulCall(C)")])
        failed = int(last[head.index("FailedCall(C)")])
    return ok, failed, wall, children_cpu() - sipp_cpu0


def setup_times(folder):
    """Every call's INVITE-to-200 time in ms, from sipp's -trace_rtt file (the caller's rtd)."""
    times = []
    for path in glob.glob(os.path.join(folder, "*_rtt.csv")):
        for line in open(path):
            f = line.strip().split(";")
            if len(f) >= 2 and f[1].replace(".", "", 1).isdigit():
                times.append(float(f[1]))
    return sorted(times)


def percentile(sorted_values, q):
    return round(sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))], 2) if sorted_values else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=".build/release/calltrack")
    ap.add_argument("--rates", default="50,100,200,300,400")
    ap.add_argument("--rate-seconds", type=int, default=10)
    ap.add_argument("--audio-calls", default="100,300")
    ap.add_argument("--audio-hold", type=int, default=20, help="seconds each audio call lasts")
    ap.add_argument("--idle-calls", type=int, default=2000)
    ap.add_argument("--setup-only", action="store_true", help="only the call setup rates (1.)")
    args = ap.parse_args()
    if not shutil.which("sipp"):
        raise SystemExit("sipp is missing: apt-get install sip-tester")
    rows = []
    workdir = tempfile.mkdtemp(prefix="calltrack-bench-")

    def measure(label, calls, rate, concurrent, hold_ms, audio, through, record=False):
        ct = None
        if through:
            ctdir = os.path.join(workdir, f"ct-{len(rows)}")
            os.makedirs(ctdir, exist_ok=True)
            ct = CallTrack(args.binary, ctdir, record=record)
        cpu0 = ct.cpu() if ct else 0
        tag = f"{label}-{'ct' if through else 'direct'}-{len(rows)}"
        ok, failed, wall, sipp_cpu = run_load(SIP if through else CALLEE, CALLEE, workdir, calls, rate, concurrent, hold_ms, audio,
                                              tag, caller_args=("-trace_rtt", "-rtt_freq", "1"))
        setup = setup_times(os.path.join(workdir, tag))
        cpu = (ct.cpu() - cpu0) if ct else None
        rss = ct.rss_mib() if ct else None
        if ct:
            ct.stop()
        call_minutes = ok * hold_ms / 60000
        disk = ct.recorded_bytes() if ct and record else None
        path = ("through CallTrack, recording" if record else "through CallTrack") if through else "direct (no CallTrack)"
        row = dict(test=label, path=path, calls=calls, rate=rate,
                   disk_per_call_min=None if disk is None or call_minutes == 0 else int(disk / call_minutes),
                   concurrent=concurrent, ok=ok, failed=failed, wall=round(wall, 1), sipp_cpu=round(sipp_cpu, 2),
                   setup_p50=percentile(setup, 0.5), setup_p99=percentile(setup, 0.99),
                   cpu_per_call=None if cpu is None or ok == 0 else round(cpu / ok * 1000, 3),
                   cpu=None if cpu is None else round(cpu, 2),
                   cpu_per_call_min=None if cpu is None or call_minutes == 0 else round(cpu / call_minutes, 4),
                   rss_mib=None if rss is None else round(rss, 1))
        rows.append(row)
        print(json.dumps(row), flush=True)
        return row

    # 1. Call setup rate: short calls without audio.
    for rate in [int(r) for r in args.rates.split(",")]:
        calls = rate * args.rate_seconds
        for through in (False, True):
            measure(f"setup {rate} cps", calls, rate, rate * 2, 1000, None, through)
    # 2. Concurrent calls with audio both ways.
    pcap = long_pcap(args.audio_hold + 2, workdir)
    if args.setup_only:
        args.audio_calls, args.idle_calls = "", 0
    for n in [int(c) for c in args.audio_calls.split(",") if c]:
        for through in (False, True):
            measure(f"{n} concurrent with audio", n, max(10, n // 10), n, args.audio_hold * 1000, pcap, through)
        # The same load again with every call recorded: the recorder's CPU and disk cost.
        measure(f"{n} concurrent with audio", n, max(10, n // 10), n, args.audio_hold * 1000, pcap, True, record=True)
    # 3. Many concurrent calls, media idle.
    n = args.idle_calls
    if n:
        measure(f"{n} concurrent, idle media", n, 200, n, 15000, None, True)

    lines = ["| test | path | calls | ok | failed | setup p50 / p99 ms | wall s | sipp CPU s | CallTrack CPU s | CallTrack CPU ms per call | CallTrack CPU s per call-minute | CallTrack peak RSS MiB | recording bytes per call-minute |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['test']} | {r['path']} | {r['calls']} | {r['ok']} | {r['failed']} | {r['setup_p50']} / {r['setup_p99']} | "
                     f"{r['wall']} | {r['sipp_cpu']} | {'' if r['cpu'] is None else r['cpu']} | "
                     f"{'' if r['cpu_per_call'] is None else r['cpu_per_call']} | "
                     f"{'' if r['cpu_per_call_min'] is None else r['cpu_per_call_min']} | "
                     f"{'' if r['rss_mib'] is None else r['rss_mib']} | {'' if r['disk_per_call_min'] is None else r['disk_per_call_min']} |")
    table = "\n".join(lines)
    path = save_results("calls", "Call benchmark", table)
    print(f"written to {path}; work files in {workdir}")


if __name__ == "__main__":
    main()
