#!/usr/bin/env python3
"""Recording benchmark: the same sipp load (concurrent calls, G.711 audio both ways) relayed by
CallTrack without and with recording, and by rtpengine (Debian's rtpengine-daemon, userspace, signalled
by kamailio's rtpengine module) without and with its pcap recording. Reports relay CPU seconds per
call-minute and recording bytes per call-minute. Prints a Markdown table; writes
bench/results/record-<timestamp>.md.
"""
import argparse, atexit, glob, os, shutil, signal, subprocess, tempfile, time

import callbench  # same folder: sipp load, CallTrack runner, long pcap, /proc CPU

KAMAILIO_PORT, NG_PORT = callbench.free_ports(2)
CALLEE_PORT = callbench.CALLEE

KAMAILIO_CFG = """#!KAMAILIO
log_stderror=yes
fork=yes
children=2
listen=udp:127.0.0.1:{port}
disable_tcp=yes
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "rtpengine.so"
modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:{ng}")
request_route {{
    if (has_totag()) {{
        loose_route();
        if (is_method("BYE")) {{ rtpengine_delete(); }}
        t_relay();
        exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    if (is_method("INVITE")) {{
        record_route();
        rtpengine_manage("{flags}");
        $du = "sip:127.0.0.1:{callee}";
        t_on_reply("MEDIA");
        t_relay();
        exit;
    }}
    sl_send_reply("405", "Method not allowed");
}}
onreply_route[MEDIA] {{
    if (has_body("application/sdp")) {{ rtpengine_manage("{flags}"); }}
}}
"""


class RTPEngine:
    """rtpengine in the foreground (no kernel module) behind a kamailio proxy, both on loopback."""

    def __init__(self, workdir, record):
        self.recordings = os.path.join(workdir, "rtpengine-rec")
        os.makedirs(self.recordings, exist_ok=True)
        args = ["rtpengine", "--interface=127.0.0.1", f"--listen-ng=127.0.0.1:{NG_PORT}", "--port-min=40000",
                "--port-max=49999", "--table=-1", "--foreground", "--log-stderr", "--log-level=4",
                f"--pidfile={workdir}/rtpengine.pid"]
        if record:
            args += [f"--recording-dir={self.recordings}", "--recording-method=pcap"]
        # Run in the work dir: Debian's rtpengine 10.5 has dumped core here on SIGTERM at the end of a run.
        self.engine = callbench.owned(subprocess.Popen(args, stdout=open(f"{workdir}/rtpengine.log", "w"), stderr=subprocess.STDOUT,
                                       cwd=workdir))
        flags = "RTP/AVP replace-origin replace-session-connection" + (" record-call=yes" if record else "")
        self.cfg = os.path.join(workdir, "kamailio.cfg")
        open(self.cfg, "w").write(KAMAILIO_CFG.format(port=KAMAILIO_PORT, ng=NG_PORT, callee=CALLEE_PORT, flags=flags))
        self.pidfile = os.path.join(workdir, "kamailio.pid")
        subprocess.run(["kamailio", "-f", self.cfg, "-P", self.pidfile, "-w", workdir],
                       stdout=open(f"{workdir}/kamailio.log", "w"), stderr=subprocess.STDOUT, check=True, timeout=20)
        atexit.register(self.stop)  # kamailio runs as a daemon: stopped by its pid file however the script ends
        time.sleep(1)

    def pids(self):
        kam = subprocess.run(["pgrep", "-f", f"kamailio -f {self.cfg}"], capture_output=True, text=True).stdout.split()
        return self.engine.pid, [int(p) for p in kam]

    def cpu(self):
        engine, kam = self.pids()
        total_kam = 0.0
        for p in kam:
            try:
                total_kam += callbench.cpu_seconds(p)
            except OSError:
                pass
        return callbench.cpu_seconds(engine), total_kam

    def recorded_bytes(self):
        return sum(os.path.getsize(f) for f in glob.glob(os.path.join(self.recordings, "**", "*.pcap"), recursive=True))

    def stop(self):
        try:
            os.kill(int(open(self.pidfile).read().strip()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
        for p in self.pids()[1]:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        self.engine.send_signal(signal.SIGTERM)
        try:
            self.engine.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.engine.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=".build/release/calltrack")
    ap.add_argument("--calls", type=int, default=200, help="concurrent calls")
    ap.add_argument("--hold", type=int, default=20, help="seconds each call lasts")
    args = ap.parse_args()
    for tool in ("sipp", "rtpengine", "kamailio"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: make bench installs it")
    workdir = tempfile.mkdtemp(prefix="calltrack-record-")
    pcap = callbench.long_pcap(args.hold + 2, workdir)
    n, hold_ms = args.calls, args.hold * 1000
    rows = []

    def row(system, recording, ok, failed, cpu, extra_cpu, disk):
        minutes = ok * hold_ms / 60000
        rows.append(dict(system=system, recording=recording, ok=ok, failed=failed, cpu=round(cpu, 2),
                         extra=None if extra_cpu is None else round(extra_cpu, 2),
                         per_min=round(cpu / minutes, 4) if minutes else None,
                         disk=int(disk / minutes) if disk is not None and minutes else None))
        print(rows[-1], flush=True)

    for record in (False, True):
        d = os.path.join(workdir, f"calltrack-{record}")
        os.makedirs(d)
        ct = callbench.CallTrack(args.binary, d, record=record)
        c0 = ct.cpu()
        ok, failed, _, _ = callbench.run_load(callbench.SIP, CALLEE_PORT, d, n, max(10, n // 10), n, hold_ms, pcap, "load")
        cpu = ct.cpu() - c0
        ct.stop()
        row("CallTrack", "stereo WAV" if record else "off", ok, failed, cpu, None, ct.recorded_bytes() if record else None)
    for record in (False, True):
        d = os.path.join(workdir, f"rtpengine-{record}")
        os.makedirs(d)
        rte = RTPEngine(d, record)
        try:
            e0, k0 = rte.cpu()
            ok, failed, _, _ = callbench.run_load(KAMAILIO_PORT, CALLEE_PORT, d, n, max(10, n // 10), n, hold_ms, pcap, "load")
            e1, k1 = rte.cpu()
            time.sleep(1)  # let rtpengine close its pcaps
            row("rtpengine + kamailio", "pcap" if record else "off", ok, failed, e1 - e0, k1 - k0,
                rte.recorded_bytes() if record else None)
        finally:
            rte.stop()

    lines = [f"| relay | recording | calls ok | failed | relay CPU s | kamailio CPU s | relay CPU s per call-minute | recording bytes per call-minute |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['system']} | {r['recording']} | {r['ok']} | {r['failed']} | {r['cpu']} | "
                     f"{'' if r['extra'] is None else r['extra']} | {r['per_min']} | {'' if r['disk'] is None else r['disk']} |")
    table = "\n".join(lines)
    print(table)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, time.strftime("record-%Y%m%d-%H%M%S.md"))
    open(path, "w").write(f"# Recording benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {n} concurrent calls of {args.hold} s, "
                          f"G.711 both ways\n\n{table}\n")
    print(f"written to {path}; work files in {workdir}")


if __name__ == "__main__":
    main()
