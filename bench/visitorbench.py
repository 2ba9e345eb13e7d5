#!/usr/bin/env python3
"""What a stream of fresh visitors costs CallTrack in memory and disk.

Sends N reservations, each from a new client id with a long (3.6 KB) page URL, spread over
200 source addresses (127.0.1.x) so that every one stays within the per-address rate limit,
as a stranger would to grow the visitor tables. Reports CallTrack's resident memory and the
database size before and after, and the memory after a restart.

    python3 bench/visitorbench.py --binary .build/release/calltrack [--reservations 24000]
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import time
import urllib.request

from callbench import free_ports
from startbench import rss_mb, save, start, workspace  # launching calltrack and reading its memory, as start-up measures them


def db_mb(directory):
    return sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory)
               if f.startswith("calltrack.sqlite")) / 2**20


def reserve_batch(port, source, ids, padding):
    """One source address's share of the visitors, on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    codes = {}
    for i in ids:
        body = json.dumps({"client_id": f"fresh-{i}", "page": f"https://shop.test/landing?utm_source=s{i % 50}&pad={padding}"})
        conn.request("POST", "/v1/projects/shop/reservations", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        codes[r.status] = codes.get(r.status, 0) + 1
    conn.close()
    return codes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--reservations", type=int, default=24000)
    ap.add_argument("--out", default="bench/results/visitors.json")
    ap.add_argument("--numbers", type=int, default=10,
                    help="pool size: with 1000 and 1000 reservations every visitor holds a live number (memory per reservation)")
    args = ap.parse_args()
    ports = dict(zip(("sip", "http", "callee"), free_ports(3)))
    work, _, cfg = workspace("calltrack-visitors-", ports, rtp=37000, numbers=args.numbers)
    proc, _ = start(args.binary, cfg, ports["http"])
    time.sleep(0.5)
    before = dict(rss_mb=round(rss_mb(proc.pid), 1), database_mb=round(db_mb(work), 2))

    padding = "x" * 3600
    sources = [f"127.0.1.{i}" for i in range(1, 201)]
    per_source = args.reservations // len(sources)
    began = time.monotonic()
    codes = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        jobs = [pool.submit(reserve_batch, ports["http"], s, range(k * per_source, (k + 1) * per_source), padding)
                for k, s in enumerate(sources)]
        for j in jobs:
            for code, n in j.result().items():
                codes[code] = codes.get(code, 0) + n
    seconds = time.monotonic() - began
    time.sleep(1.5)  # the batch writer stores the last visits
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{ports['http']}/metrics").read().decode()
    held = {l.split()[0]: int(float(l.split()[-1])) for l in metrics.splitlines()
            if l.startswith(("calltrack_visitors_in_memory ", "calltrack_recent_visitors "))}
    after = dict(rss_mb=round(rss_mb(proc.pid), 1), database_mb=round(db_mb(work), 2), **held)
    proc.terminate()
    proc.wait()
    proc, _ = start(args.binary, cfg, ports["http"])
    time.sleep(0.5)
    restarted = dict(rss_mb=round(rss_mb(proc.pid), 1))
    proc.terminate()
    proc.wait()

    result = dict(binary=args.binary, reservations=per_source * len(sources), sources=len(sources),
                  seconds=round(seconds, 1), responses=codes, before=before, after=after, after_restart=restarted, work=work)
    save(result, args.out)


if __name__ == "__main__":
    main()
