#!/usr/bin/env python3
"""Report answer times over a large history.

Fills the SQLite file with N calls over the last 30 days (default 1,000,000: sources, campaigns and
keywords as a busy advertiser has them, a fifth of them repeat callers) and M visits (default
3,000,000), plus a month of daily costs, then times, with the release build serving them:
the month's report grouped by source and by keyword, the leads of the month, and the first page of
the calls list; then, signed in as a browser, the dashboard's pages (the report page builds the
month's report and its chart in one pass). Medians of five requests each.

    python3 bench/reportbench.py --binary .build/release/calltrack [--calls 1000000] [--visits 3000000]
"""
import argparse
import http.cookiejar
import os
import re
import random
import sqlite3
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request

from callbench import free_ports
from startbench import rss_mb, save, start, workspace


def timed(url, token="bench", runs=5):
    """Median seconds of `runs` GETs, and the body size of the last."""
    times, size = [], 0
    for _ in range(runs):
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        began = time.monotonic()
        with urllib.request.urlopen(req, timeout=600) as r:
            size = len(r.read())
        times.append(time.monotonic() - began)
    return statistics.median(times), size


def dashboard(http_base, token="bench"):
    """An opener signed in to the dashboard (its session cookie in a jar)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(f"{http_base}/signin").read().decode()
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    form = urllib.parse.urlencode(dict(csrf=csrf, token=token, next="/")).encode()
    opener.open(urllib.request.Request(f"{http_base}/signin", data=form)).read()
    return opener


def timed_page(opener, url, runs=5):
    times, size = [], 0
    for _ in range(runs):
        began = time.monotonic()
        with opener.open(url, timeout=600) as r:
            size = len(r.read())
            assert "/signin" not in r.geturl(), "not signed in"
        times.append(time.monotonic() - began)
    return statistics.median(times), size


def fill(db, calls, visits, now):
    con = sqlite3.connect(db)
    rnd = random.Random(7)
    sources = [("google", "cpc"), ("yandex", "cpc"), ("facebook", "social"), ("google", "organic"), ("(direct)", "(none)")]

    # Calls are stored as they start, so the file holds them in time order, as a real one does.
    starts = sorted(now - rnd.random() * 30 * 86400 for _ in range(calls))

    def call_rows():
        for i in range(calls):
            started = starts[i]
            source, medium = sources[i % len(sources)]
            answered = rnd.random() < 0.8
            caller = f"+7916{(i if rnd.random() < 0.8 else rnd.randrange(max(1, i))) % 10_000_000:07d}"
            kind = "dynamic" if i % 10 else "static"
            yield (f"{i:022x}", "shop", "carrier", "74990000001", "+74990000001", caller, caller, "sip:1@127.0.0.1",
                   f"c{i}", started, started + 5 if answered else None, started + 65 if answered else started + 20,
                   "answered" if answered else "missed", None if answered else "no_answer", kind, "main",
                   f"visitor-{i}", source if kind == "dynamic" else None, medium if kind == "dynamic" else None,
                   f"campaign-{i % 40}" if kind == "dynamic" else None, f"keyword-{i % 500}" if kind == "dynamic" else None)
    con.executemany(
        "INSERT INTO calls (id, project, trunk, did_dialled, did, caller, caller_e164, forward_to, sip_call_id, started_at, "
        "answered_at, ended_at, status, missed_reason, number_kind, pool, client_id, source, medium, campaign, keyword) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", call_rows())
    # Leads: each caller's first call.
    con.execute("INSERT OR IGNORE INTO leads (project, phone, first_call_id, first_call_at) "
                "SELECT project, caller_e164, id, started_at FROM calls ORDER BY started_at")
    con.execute("UPDATE calls SET first_time = 1 WHERE id IN (SELECT first_call_id FROM leads)")
    con.executemany(
        "INSERT INTO visits (project, client_id, at, page, referrer, source, medium, campaign, keyword, content, gclid, "
        "yclid, region) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (("shop", f"visitor-{i % calls}", now - rnd.random() * 30 * 86400, f"https://shop.test/item-{i % 5000}", None,
          *sources[i % len(sources)], f"campaign-{i % 40}", f"keyword-{i % 500}", None, None, None, None)
         for i in range(visits)))
    con.executemany(
        "INSERT INTO costs (project, date, source, medium, campaign, keyword, amount) VALUES ('shop', ?, ?, ?, ?, ?, ?)",
        ((time.strftime("%Y-%m-%d", time.gmtime(now - d * 86400)), s, m, f"campaign-{c}", "", 100.0)
         for d in range(31) for (s, m) in sources[:3] for c in range(40)))
    con.commit()
    con.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--visits", type=int, default=3_000_000)
    ap.add_argument("--out", default="bench/results/report.json")
    args = ap.parse_args()
    ports = dict(zip(("sip", "http", "callee"), free_ports(3)))
    work, db, cfg = workspace("calltrack-report-", ports)
    proc, _ = start(args.binary, cfg, ports["http"])  # creates the schema
    proc.terminate(); proc.wait()
    now = time.time()
    began = time.monotonic()
    fill(db, args.calls, args.visits, now)
    fill_seconds = time.monotonic() - began

    proc, start_seconds = start(args.binary, cfg, ports["http"])
    base = f"http://127.0.0.1:{ports['http']}/v1"
    day = lambda t: time.strftime("%Y-%m-%d", time.gmtime(t))
    period = f"from={day(now - 30 * 86400)}&to={day(now)}"
    result = dict(binary=args.binary, calls=args.calls, visits=args.visits,
                  database_mb=round(os.path.getsize(db) / 2**20, 1), fill_seconds=round(fill_seconds, 1),
                  start_seconds=round(start_seconds, 2))
    for name, url in [("report_by_source", f"{base}/projects/shop/report?{period}&group_by=source"),
                      ("report_by_keyword", f"{base}/projects/shop/report?{period}&group_by=keyword"),
                      ("leads_month", f"{base}/projects/shop/leads?{period}"),
                      ("calls_first_page", f"{base}/calls?limit=50")]:
        seconds, size = timed(url)
        result[name + "_seconds"] = round(seconds, 3)
        result[name + "_bytes"] = size
    http_base = f"http://127.0.0.1:{ports['http']}"
    try:
        opener = dashboard(http_base)
    except urllib.error.HTTPError:  # a binary from before the dashboard, for a before/after run
        opener = None
    for name, path in [] if opener is None else [("dashboard_report", f"/?project=shop&{period}"),
                       ("dashboard_calls", "/calls?project=shop"),
                       ("dashboard_calls_filtered", "/calls?project=shop&status=missed&source=google"),
                       ("dashboard_leads", f"/leads?project=shop&{period}"),
                       ("dashboard_pool", "/pool?project=shop")]:
        seconds, size = timed_page(opener, http_base + path, runs=1 if "pool" in name else 5)
        result[name + "_seconds"] = round(seconds, 3)
        result[name + "_bytes"] = size
    result["rss_mb"] = round(rss_mb(proc.pid), 1)
    proc.terminate(); proc.wait()
    save(result, args.out)


if __name__ == "__main__":
    main()
