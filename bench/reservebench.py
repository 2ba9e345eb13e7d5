#!/usr/bin/env python3
"""Reservation API benchmark: wrk against POST /v1/projects/{key}/reservations and, in the same run on
the same server, against the plain GET /healthz route (the framework's ceiling); then the reservation
load again while sipp sets up calls, to see whether reservations slow call setup.
Prints a Markdown table; writes bench/results/reserve-<timestamp>.md.
"""
import argparse, os, re, shutil, signal, subprocess, tempfile, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
import callbench  # noqa: E402  (same folder: sipp load and CPU helpers, free ports, cleanup)

HTTP, SIP, CALLEE = callbench.free_ports(3)


def start(binary, workdir, http_port=HTTP, sip_port=SIP, callee_port=CALLEE):
    numbers = ", ".join(f'"+7499100{i:04d}"' for i in range(200))
    config = callbench.bench_config(
        workdir, sip_port, http_port, callee_port, name="reserve", sip="rtp_ports: {min: 30000, max: 39999}",
        http="reservations_per_minute: 100000000",
        project='record: false\norigins: [http://shop.test]\nsite_numbers: ["+7 (495) 123-45-67"]\n'
                'offline: [{number: "+74990000001", channel: bench-calls}]',
        pools=f'[{{name: main, numbers: [{numbers}], static: "+74990000000"}}]')
    return callbench.start_calltrack(binary, workdir, config, http_port)[0]


def wrk(url, seconds, connections, script=None):
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"] + (["-s", script] if script else []) + [url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout

    def ms(label):
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return None
        v = float(m.group(1))
        return round(v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v, 3)

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return dict(rps=float(rps.group(1)) if rps else 0, p50=ms("50%"), p99=ms("99%"),
                non2xx=int(errors.group(1)) if errors else 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=".build/release/calltrack")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    args = ap.parse_args()
    for tool in ("wrk", "sipp"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: make bench installs it")
    workdir = tempfile.mkdtemp(prefix="calltrack-reserve-")
    proc = start(args.binary, workdir)
    base = f"http://127.0.0.1:{HTTP}"
    rows = []
    try:
        ceiling = wrk(base + "/healthz", args.seconds, args.connections)
        rows.append(("GET /healthz (plain route, the ceiling)", ceiling, ""))
        reserve = wrk(base + "/v1/projects/bench/reservations", args.seconds, args.connections, os.path.join(HERE, "reserve.lua"))
        share = f"{reserve['rps'] / ceiling['rps'] * 100:.0f}% of the ceiling" if ceiling["rps"] else ""
        rows.append(("POST reservations", reserve, share))
        # Call setup alone, then with the reservation load running beside it.
        alone = callbench.run_load(SIP, CALLEE, workdir, 50 * args.seconds, 50, 100, 1000, None, "calls-alone")
        box = {}
        t = __import__("threading").Thread(target=lambda: box.update(
            r=wrk(base + "/v1/projects/bench/reservations", args.seconds, args.connections, os.path.join(HERE, "reserve.lua"))))
        t.start()
        loaded = callbench.run_load(SIP, CALLEE, workdir, 50 * args.seconds, 50, 100, 1000, None, "calls-loaded")
        t.join()
        rows.append(("POST reservations during 50 calls/s", box.get("r", {}), ""))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    lines = ["| load | requests/s | p50 ms | p99 ms | non-2xx | note |", "| --- | --- | --- | --- | --- | --- |"]
    for name, r, note in rows:
        lines.append(f"| {name} | {r.get('rps')} | {r.get('p50')} | {r.get('p99')} | {r.get('non2xx')} | {note} |")
    lines += ["", "| call setup, 50 calls/s for the same time | calls ok | failed |", "| --- | --- | --- |",
              f"| alone | {alone[0]} | {alone[1]} |", f"| with the reservation load | {loaded[0]} | {loaded[1]} |"]
    table = "\n".join(lines)
    print(table)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", time.strftime("reserve-%Y%m%d-%H%M%S.md"))
    open(path, "w").write(f"# Reservation benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
                          f"{args.connections} connections, {args.seconds} s each\n\n{table}\n")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
