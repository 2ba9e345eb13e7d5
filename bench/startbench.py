#!/usr/bin/env python3
"""Start-up time and memory of CallTrack with a large visit history in its database.

Memory and start-up must grow with live state only: this fills the SQLite file with N stored
visits (one busy site over 90 days: 3,000,000) and a few live reservations, then times
`calltrack serve` from launch to its first /healthz 200 and reads its resident memory.

    python3 bench/startbench.py --binary .build/release/calltrack [--visits 3000000]
"""
import argparse
import json
import os
import random
import sqlite3
import subprocess
import tempfile
import time
import urllib.request

from callbench import free_ports, owned  # free ports, and what it starts stopped when the script ends

CONFIG = """
sip:
  listen: [udp:127.0.0.1:{sip}]
  rtp_ports: {{min: {rtp}, max: {rtp_max}}}
http:
  listen: 127.0.0.1:{http}
storage:
  database: {db}
  recordings: {dir}/recordings
trunks:
  - name: carrier
    allow: [127.0.0.1/32]
    proxy: sip:127.0.0.1:{callee}
projects:
  - key: shop
    forward_to: sip:+74951234567@127.0.0.1:{callee}
    trunk: carrier
    origins: [http://shop.test]
    site_numbers: ["+7 (495) 123-45-67"]
    pools:
      - name: main
        numbers: [{numbers}]
        static: "+74990000000"
"""


def start(binary, cfg, http_port):
    """Launches calltrack; returns (process, seconds to the first /healthz 200)."""
    began = time.monotonic()
    proc = owned(subprocess.Popen([binary, "serve", "--config", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env=dict(os.environ, CALLTRACK_ADMIN_TOKENS="bench")))
    while time.monotonic() - began < 600:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=1).status == 200:
                return proc, time.monotonic() - began
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("calltrack did not start within 600 s")


def workspace(prefix, ports, rtp=36000, numbers=3):
    """A fresh folder with a config for the shop project on `ports` (sip, http, callee), RTP ports from
    `rtp`, and a pool of `numbers` numbers; returns (folder, database, config)."""
    work = tempfile.mkdtemp(prefix=prefix)
    db = os.path.join(work, "calltrack.sqlite")
    cfg = os.path.join(work, "calltrack.yaml")
    pool = ", ".join(f'"+7499{i:07d}"' for i in range(1, numbers + 1))
    with open(cfg, "w") as f:
        f.write(CONFIG.format(db=db, dir=work, rtp=rtp, rtp_max=rtp + 999, numbers=pool, **ports))
    return work, db, cfg


def save(result, out):
    """Writes the result as JSON to `out` and prints it."""
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--visits", type=int, default=3_000_000)
    ap.add_argument("--out", default="bench/results/start.json")
    args = ap.parse_args()
    ports = dict(zip(("sip", "http", "callee"), free_ports(3)))
    work, db, cfg = workspace("calltrack-start-", ports)

    # A first start creates the schema; then the history goes straight into SQLite.
    proc, empty_start = start(args.binary, cfg, ports["http"])
    empty_rss = rss_mb(proc.pid)
    proc.terminate(); proc.wait()

    now = time.time()
    con = sqlite3.connect(db)
    rows = ((f"shop", f"visitor-{i}", now - random.random() * 90 * 86400,
             f"https://shop.test/catalog/item-{i % 5000}?utm_source=google&utm_medium=cpc&utm_campaign=c{i % 40}",
             "https://www.google.com/", "google", "cpc", f"c{i % 40}", None, None, None, None, None)
            for i in range(args.visits))
    con.executemany("INSERT INTO visits (project, client_id, at, page, referrer, source, medium, campaign, keyword, "
                    "content, gclid, yclid, region) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    # Three visitors hold live numbers: their histories are what start-up must load.
    for i, number in enumerate(["+74990000001", "+74990000002", "+74990000003"]):
        con.execute("INSERT INTO reservations (id, project, client_id, number, pool, created_at, expires_at) "
                    "VALUES (?, 'shop', ?, ?, 'main', ?, ?)", (f"r{i}", f"visitor-{i}", number, now - 60, now + 300))
    con.commit()
    con.close()
    size_mb = os.path.getsize(db) / 2**20

    proc, full_start = start(args.binary, cfg, ports["http"])
    time.sleep(0.5)
    full_rss = rss_mb(proc.pid)
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{ports['http']}/metrics").read().decode()
    # swift-prometheus writes gauges as floats (3.0).
    in_memory = next((int(float(l.split()[-1])) for l in metrics.splitlines() if l.startswith("calltrack_visitors_in_memory ")), -1)
    proc.terminate(); proc.wait()

    result = dict(binary=args.binary, visits=args.visits, database_mb=round(size_mb, 1),
                  empty_start_seconds=round(empty_start, 2), empty_rss_mb=round(empty_rss, 1),
                  start_seconds=round(full_start, 2), rss_mb=round(full_rss, 1), visitors_in_memory=in_memory, work=work)
    save(result, args.out)


if __name__ == "__main__":
    main()
