#!/usr/bin/env python3
"""CallTrack delivery benchmark: webhooks from the outbox, side by side with no webhooks.

  1. Call setup at 50 calls/s (1 s calls, no audio) with no webhooks, and with every event of every
     call webhooked to a receiver that is down (the port refuses connections), then to one that
     accepts connections and never answers (each attempt waits out the 10 s timeout): sipp's INVITE
     to 200 OK times (mean, 99th percentile, maximum; sipp measures whole milliseconds), failed
     calls, CallTrack's CPU.
  2. The backlog those runs left, drained once the receiver comes back: how long until the first
     delivery arrives (an endpoint that fails is probed at most `delivery.probe_max_seconds`, 15 s,
     apart), how long from it until every delivery has, and deliveries per second. The "long outage"
     run keeps the receiver down `--outage` seconds more after the load.
  3. Delivery throughput with the receiver up during the load: deliveries per second, and how long
     after the last call every event has arrived.
Prints a Markdown table; writes bench/results/deliveries-<timestamp>.md.
"""
import argparse, glob, http.server, json, os, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from callbench import bench_config, cpu_seconds, free_ports, run_load, save_results, start_calltrack  # noqa: E402

SIP, HTTP, CALLEE, RECEIVER = free_ports(4)


class Receiver:
    """A webhook receiver on RECEIVER that answers 204 to everything (HTTP/1.1, kept alive), counting."""

    def __init__(self):
        count = self.count = [0]
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    count[0] += 1
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", RECEIVER), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Blackhole:
    """Accepts connections on RECEIVER and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", RECEIVER))
        self.sock.listen(1024)
        self.held = []
        self.running = True
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except OSError:
                return

    def stop(self):
        self.running = False
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept; close alone leaves it listening
        self.sock.close()
        for c in self.held:
            c.close()


class CallTrack:
    def __init__(self, binary, workdir, webhooks):
        hooks = f'webhooks: [{{url: "http://127.0.0.1:{RECEIVER}/hook", secret_env: BENCH_SECRET}}]' if webhooks else ""
        config = bench_config(workdir, SIP, HTTP, CALLEE, sip="rtp_ports: {min: 30000, max: 49999}\ndrain_seconds: 1",
                              sections="delivery:\n  retry_base_seconds: 1",
                              project="record: false\n" + hooks)
        self.proc, self.log = start_calltrack(binary, workdir, config, HTTP, env={"BENCH_SECRET": "bench-secret"})

    def backlog(self):
        text = urllib.request.urlopen(f"http://127.0.0.1:{HTTP}/metrics", timeout=5).read().decode()
        return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines() if line.startswith("calltrack_outbox_backlog{"))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def setup_times(base):
    """INVITE to 200 OK of every call, in ms, from sipp's -trace_rtt file."""
    times = []
    for path in glob.glob(os.path.join(base, "*_rtt.csv")):
        for line in open(path).read().splitlines()[1:]:
            parts = line.split(";")
            if len(parts) >= 2:
                times.append(float(parts[1]))
    return sorted(times)


def drain(ct, receiver, expected, seconds_max=300):
    """Seconds until the receiver has its first delivery and until it has every one, and the backlog at
    the start."""
    start_backlog, start, first = ct.backlog(), time.monotonic(), None
    while receiver.count[0] < expected:
        if first is None and receiver.count[0] > 0:
            first = time.monotonic() - start
        if time.monotonic() - start > seconds_max:
            return first, None, start_backlog
        time.sleep(0.01)
    return first if first is not None else time.monotonic() - start, time.monotonic() - start, start_backlog


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=".build/release/calltrack")
    ap.add_argument("--rate", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--runs", default="none,down,long,hanging,up", help="which runs, of none, down, long, hanging, up")
    ap.add_argument("--outage", type=int, default=120, help="seconds the receiver stays down after the load in the long run")
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="calltrack-deliveries-")
    calls = args.rate * args.seconds
    rows = []

    def load(label, webhooks, receiver):
        ctdir = os.path.join(workdir, f"ct-{len(rows)}")
        os.makedirs(ctdir)
        peer = {"down": lambda: None, "long": lambda: None, "hanging": Blackhole, "up": Receiver}[receiver]() if webhooks else None
        ct = CallTrack(args.binary, ctdir, webhooks)
        try:
            measure(label, webhooks, receiver, peer, ct)
        finally:
            ct.stop()

    def measure(label, webhooks, receiver, peer, ct):
        cpu0 = cpu_seconds(ct.proc.pid)
        tag = f"load-{len(rows)}"
        ok, failed, wall, _ = run_load(SIP, CALLEE, workdir, calls, args.rate, args.rate * 4, 1000, None, tag,
                                       caller_args=["-trace_rtt", "-rtt_freq", "1"])
        times = setup_times(os.path.join(workdir, tag))
        row = dict(test=label, calls=calls, ok=ok, failed=failed,
                   setup_mean_ms=round(statistics.mean(times), 2) if times else None,
                   setup_p99_ms=times[int(len(times) * 0.99) - 1] if times else None, setup_max_ms=times[-1] if times else None,
                   cpu=round(cpu_seconds(ct.proc.pid) - cpu0, 2))
        if webhooks:
            if receiver == "long":
                time.sleep(args.outage)
            if receiver != "up":
                # The receiver comes back: the backlog drains.
                if peer:
                    peer.stop()
                peer = Receiver()
            # call.started, call.answered and call.ended of every call.
            first, seconds, backlog = drain(ct, peer, 3 * ok)
            row["backlog"] = backlog
            row["first_s"] = None if first is None or receiver == "up" else round(first, 2)
            row["first_to_empty_s"] = None if seconds is None or first is None or receiver == "up" else round(seconds - first, 2)
            row["drain_s"] = None if seconds is None else round(seconds, 2)
            # With the receiver up the backlog is what the load left: the lag, not a rate.
            row["deliveries_per_s"] = None if not seconds or receiver == "up" else round(backlog / seconds)
            row["received"] = peer.count[0]
            peer.stop()
        rows.append(row)
        print(json.dumps(row), flush=True)

    runs = {"none": ("no webhooks", False, None),
            "down": ("every event to a receiver that is down (refused), then back", True, "down"),
            "long": (f"the same, the receiver down {args.outage} s more after the load", True, "long"),
            "hanging": ("every event to a receiver that hangs (10 s timeouts), then back", True, "hanging"),
            "up": ("every event to a receiver that is up", True, "up")}
    for name in args.runs.split(","):
        load(*runs[name])

    lines = ["| run | calls | ok | failed | setup mean ms | setup p99 ms | setup max ms | CallTrack CPU s during the load | backlog after the load | s from the receiver's return to the first delivery | s from it to an empty backlog | s until every event arrived | deliveries/s draining | received |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        cell = lambda k: "" if r.get(k) is None else r[k]
        lines.append(f"| {r['test']} | {r['calls']} | {r['ok']} | {r['failed']} | {cell('setup_mean_ms')} | {cell('setup_p99_ms')} | {cell('setup_max_ms')} | "
                     f"{r['cpu']} | {cell('backlog')} | {cell('first_s')} | {cell('first_to_empty_s')} | {cell('drain_s')} | "
                     f"{cell('deliveries_per_s')} | {cell('received')} |")
    table = "\n".join(lines)
    path = save_results("deliveries", "Delivery benchmark", table)
    print(f"written to {path}; work files in {workdir}")


if __name__ == "__main__":
    main()
