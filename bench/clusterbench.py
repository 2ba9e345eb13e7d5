#!/usr/bin/env python3
"""Several nodes on PostgreSQL against one node on SQLite, side by side in the same run:

  1. reservations/s, p50/p99 (wrk, 20,000 visitors, 200 numbers, 90 % returning visitors and 10 % new):
     one SQLite node, one PostgreSQL node, two PostgreSQL nodes through HAProxy; PostgreSQL's commits/s
     and CPU beside;
  2. the forwarded INVITE's latency (the caller's INVITE in to the callee's INVITE out, tcpdump on loopback)
     at 50 and 200 calls/s, SQLite against PostgreSQL, to a pool number (attributed by a read of the shared
     pool book on PostgreSQL);
  3. failover after kill -9 of one of two nodes behind the shipped Kamailio and HAProxy configurations,
     under 10 calls/s and 20 reservations/s: to Kamailio marking it inactive, to HAProxy marking it down,
     the slowest call set up in the 10 s after, calls and reservations failed meanwhile.

Each figure is the median of --runs runs. PostgreSQL is the benchmark's own (initdb and pg_ctl in the
work folder, fsync on), on the same two cores as everything else. Prints Markdown tables; writes
bench/results/cluster-<timestamp>.md.
"""
import argparse, atexit, glob, json, os, re, shutil, signal, statistics, subprocess, tempfile, threading, time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
import callbench  # noqa: E402  (same folder: sipp load, free ports, cleanup)
from callbench import owned  # noqa: E402
import reservebench  # noqa: E402  (wrk and its figures)

CLK = os.sysconf("SC_CLK_TCK")


def as_postgres(cmd, **kw):
    """Runs a PostgreSQL tool as the postgres user when root (initdb refuses root)."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    return subprocess.run(prefix + cmd, check=True, capture_output=True, text=True, **kw)


class Postgres:
    """A PostgreSQL of the benchmark's own, on a free loopback port."""

    def __init__(self, workdir):
        version = max(os.listdir("/usr/lib/postgresql"), key=int)
        self.bin = f"/usr/lib/postgresql/{version}/bin"
        self.folder = os.path.join(workdir, "postgres")
        os.makedirs(self.folder)
        os.chmod(workdir, 0o755)
        if os.getuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self.port = callbench.free_ports(1)[0]
        as_postgres([f"{self.bin}/initdb", "-D", f"{self.folder}/data", "-U", "calltrack", "--auth=trust", "-E", "UTF8"])
        as_postgres([f"{self.bin}/pg_ctl", "-D", f"{self.folder}/data", "-l", f"{self.folder}/log", "-w", "-o",
                     f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=300", "start"])
        self.databases = 0

    def new_database(self):
        self.databases += 1
        name = f"bench{self.databases}"
        self.sql("postgres", f"CREATE DATABASE {name}")
        return name, f"postgres://calltrack@127.0.0.1:{self.port}/{name}"

    def sql(self, database, statement):
        return subprocess.run([f"{self.bin}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "calltrack", "-d", database,
                               "-At", "-c", statement], check=True, capture_output=True, text=True).stdout.strip()

    def commits(self, database):
        return int(self.sql(database, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"))

    def cpu(self):
        """CPU seconds of every PostgreSQL process alive now (the nodes' connections live through a run)."""
        total = 0
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                text = open(stat).read()
            except OSError:
                continue
            if "(postgres)" in text:
                fields = text.rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / CLK
        return total

    def stop(self):
        as_postgres([f"{self.bin}/pg_ctl", "-D", f"{self.folder}/data", "-m", "immediate", "stop"])


class Node:
    """One `calltrack serve`: alone on SQLite, or a cluster node on `database_url`."""

    def __init__(self, binary, workdir, name, database_url=None, pools=None, front_proxy=False, callee=None):
        self.workdir = os.path.join(workdir, name)
        os.makedirs(self.workdir, exist_ok=True)
        self.sip, self.http, self.callee = callbench.free_ports(3)
        self.callee = callee or self.callee
        storage, sections, env = None, "tracking:\n  max_numbers_per_address: 1000000", {}
        if database_url:
            storage = "backend: postgres\npostgres: {pool_size: 16}"
            sections += (f"\ncluster:\n  node_id: {name}\n  advertised_http: http://127.0.0.1:{self.http}"
                         "\n  heartbeat_seconds: 1\n  node_timeout_seconds: 3")
            env["CALLTRACK_DATABASE_URL"] = database_url
        config = callbench.bench_config(
            self.workdir, self.sip, self.http, self.callee, name=name, storage=storage, sections=sections,
            sip="rtp_ports: {min: 30000, max: 33999}\ndrain_seconds: 1" + ("\nfront_proxies: [127.0.0.3/32]" if front_proxy else ""),
            http="reservations_per_minute: 100000000\ntrusted_proxies: [127.0.0.1/32, 127.0.0.5/32]",
            project="record: false\norigins: [http://shop.test]\nsite_numbers: [\"+7 (495) 123-45-67\"]",
            **({"pools": pools} if pools else {}))
        self.proc = callbench.start_calltrack(binary, self.workdir, config, self.http, env=env)[0]

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)


POOL_200 = "[{name: main, numbers: [" + ", ".join(f'"+7499100{i:04d}"' for i in range(200)) + '], static: "+74990000000"}]'


def haproxy(workdir, port, http_ports):
    """The shipped deploy/haproxy/calltrack.cfg with this run's addresses."""
    lines = [l for l in open(os.path.join(ROOT, "deploy/haproxy/calltrack.cfg")).read().splitlines()
             if not l.strip().startswith("server ")]
    lines = [f"    bind 127.0.0.1:{port}" if l.strip().startswith("bind ") else
             "    maxconn 4000" if l.strip().startswith("maxconn ") else l for l in lines]
    lines += ["    source 127.0.0.5"] + [f"    server node-{i} 127.0.0.1:{p} check" for i, p in enumerate(http_ports)]
    path = os.path.join(workdir, f"haproxy-{port}.cfg")
    open(path, "w").write("\n".join(lines) + "\n")
    log = open(path + ".log", "w")
    proc = owned(subprocess.Popen(["haproxy", "-db", "-f", path], stdout=log, stderr=log))
    time.sleep(1.5)
    return proc, path + ".log"


def kamailio(workdir, port, sip_ports):
    """The shipped deploy/kamailio/calltrack.cfg with this run's addresses, and kamcmd's socket."""
    folder = os.path.join(workdir, f"kamailio-{port}")
    os.makedirs(folder)
    nodes = os.path.join(folder, "calltrack-nodes.list")
    open(nodes, "w").write("".join(f"1 sip:127.0.0.1:{p} 0 0 duid=node-{i}\n" for i, p in enumerate(sip_ports)))
    open(os.path.join(folder, "calltrack-local.cfg"), "w").write(
        f'#!substdef "!CALLTRACK_LISTEN!udp:127.0.0.3:{port}!g"\n#!substdef "!CALLTRACK_NODES!{nodes}!g"\n'
        '#!substdef "!CALLTRACK_TRUNKS!127.0.0.1/32!g"\n')
    ctl = os.path.join(folder, "ctl")
    cfg = open(os.path.join(ROOT, "deploy/kamailio/calltrack.cfg")).read().replace(
        'loadmodule "dispatcher.so"', f'loadmodule "dispatcher.so"\nloadmodule "ctl.so"\nmodparam("ctl", "binrpc", "unix:{ctl}")')
    open(os.path.join(folder, "calltrack.cfg"), "w").write(cfg)
    log = open(os.path.join(folder, "log"), "w")
    # Kamailio's children are processes of their own: it runs in a group of its own, stopped as a whole.
    proc = owned(subprocess.Popen(["kamailio", "-f", os.path.join(folder, "calltrack.cfg"), "-DD", "-E", "-w", folder],
                                  stdout=log, stderr=log, start_new_session=True))
    atexit.register(lambda: stop_group(proc))
    time.sleep(1.5)
    return proc, ctl


def stop_group(proc):
    """Stops a process and every process of its group."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


def reservations(binary, workdir, pg, seconds, connections, runs):
    """1. The same wrk load on one SQLite node, one PostgreSQL node, two PostgreSQL nodes through HAProxy."""
    script = os.path.join(HERE, "reserve-mix.lua")
    results = {k: [] for k in ("sqlite", "pg1", "pg2")}
    for run in range(runs):
        for kind in results:
            nodes, database, proxy = [], None, None
            if kind == "sqlite":
                nodes.append(Node(binary, workdir, f"{kind}-{run}", pools=POOL_200))
            else:
                database, url = pg.new_database()
                nodes += [Node(binary, workdir, f"{kind}-{run}-{i}", url, pools=POOL_200) for i in range(int(kind[-1]))]
            url = f"http://127.0.0.1:{nodes[0].http}"
            if kind == "pg2":
                port = callbench.free_ports(1)[0]
                proxy = haproxy(workdir, port, [n.http for n in nodes])[0]
                url = f"http://127.0.0.1:{port}"
            commits0, cpu0 = (pg.commits(database), pg.cpu()) if database else (None, None)
            r = reservebench.wrk(url + "/v1/projects/bench/reservations", seconds, connections, script)
            if database:
                r["commits"] = (pg.commits(database) - commits0) / seconds
                r["pg_cpu"] = (pg.cpu() - cpu0) / seconds
            results[kind].append(r)
            print(kind, json.dumps(r), flush=True)
            if proxy:
                proxy.kill()
            for n in nodes:
                n.stop()
    names = {"sqlite": "one node, SQLite", "pg1": "one node, PostgreSQL", "pg2": "two nodes, PostgreSQL, through HAProxy"}
    base = median([r["rps"] for r in results["sqlite"]])
    lines = ["| reservations | requests/s | of one SQLite node | p50 ms | p99 ms | non-2xx | PostgreSQL commits/s | PostgreSQL CPU (cores) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for kind, rs in results.items():
        rps = median([r["rps"] for r in rs])
        lines.append(f"| {names[kind]} | {rps} | {round(rps / base * 100) if base else ''} % | {median([r['p50'] for r in rs])} | "
                     f"{median([r['p99'] for r in rs])} | {sum(r['non2xx'] for r in rs)} | "
                     f"{median([r.get('commits') for r in rs]) or ''} | {median([r.get('pg_cpu') for r in rs]) or ''} |")
    return "\n".join(lines)


def call_setup(binary, workdir, pg, seconds, runs, engines=("SQLite", "PostgreSQL"), binaries=None):
    """2. The forwarded INVITE's latency through one node at 50 and 200 calls/s, SQLite against PostgreSQL: from
    the caller's INVITE reaching the node to the node's INVITE leaving for the callee, both stamped by tcpdump
    on loopback and paired through the call record (its sip_call_id and the X-CallTrack-Call-ID it sent)."""
    rows = []
    for rate in (50, 200):
        figures = {kind: ([], [], [], []) for kind in engines}
        for run in range(runs):
            for kind, (p50s, p99s, failed, paired) in figures.items():
                url = pg.new_database()[1] if kind == "PostgreSQL" else None
                node = Node((binaries or {}).get(kind, binary), workdir, f"setup-{rate}-{kind}-{run}".lower().replace(" ", "-"), url)
                tag = f"setup-{rate}-{kind}-{run}"
                pcap = os.path.join(workdir, f"{tag}.pcap")
                dump = owned(subprocess.Popen(
                    ["tcpdump", "-i", "lo", "-w", pcap, "-s", "0", "-U", "-n", f"udp dst port {node.sip} or udp dst port {node.callee}"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                time.sleep(1)
                ok, bad, _, _ = callbench.run_load(node.sip, node.callee, workdir, rate * seconds, rate, rate * 2, 200, None, tag)
                time.sleep(1)
                dump.send_signal(signal.SIGINT)
                dump.wait(timeout=10)
                delays = sorted(forward_delays(pcap, node.sip, node.callee, calls_of(node)))
                p50s.append(callbench.percentile(delays, 0.5))
                p99s.append(callbench.percentile(delays, 0.99))
                failed.append(bad)
                paired.append(len(delays))
                node.stop()
                print(tag, ok, bad, len(delays), p50s[-1], p99s[-1], flush=True)
        for kind, (p50s, p99s, failed, paired) in figures.items():
            rows.append(f"| {rate} | {kind} | {median(p50s)} | {median(p99s)} | {sum(paired)} | {sum(failed)} |")
    return "\n".join(["| calls/s | storage | INVITE in to INVITE out p50 ms | p99 ms | calls measured | failed calls |",
                      "| --- | --- | --- | --- | --- | --- |"] + rows)


def calls_of(node):
    """Every call record of the node: CallTrack's id → the caller's SIP Call-ID."""
    out, cursor = {}, None
    while True:
        req = urllib.request.Request(f"http://127.0.0.1:{node.http}/v1/calls?limit=500" + (f"&cursor={cursor}" if cursor else ""),
                                     headers={"Authorization": "Bearer bench"})
        page = json.load(urllib.request.urlopen(req))
        out.update({c["id"]: c["sip_call_id"] for c in page["calls"]})
        cursor = page.get("next_cursor")
        if not cursor:
            return out


def forward_delays(pcap, node_port, callee_port, calls):
    """Milliseconds from each caller INVITE arriving at `node_port` to its forwarded INVITE leaving for
    `callee_port`, first transmissions only."""
    data = open(pcap, "rb").read()
    link = int.from_bytes(data[20:24], "little")
    offset, arrived, forwarded = 24, {}, {}
    while offset + 16 <= len(data):
        sec, usec, length = (int.from_bytes(data[offset + i:offset + i + 4], "little") for i in (0, 4, 8))
        packet = data[offset + 16:offset + 16 + length]
        offset += 16 + length
        ip = packet[14:] if link == 1 else packet[16:] if link == 113 else packet[4:]
        udp = ip[(ip[0] & 0x0F) * 4:]
        port, text = int.from_bytes(udp[2:4], "big"), udp[8:].decode("latin-1")
        if not text.startswith("INVITE "):
            continue
        at = sec + usec / 1e6
        header = "Call-ID" if port == node_port else "X-CallTrack-Call-ID" if port == callee_port else None
        m = header and re.search(rf"^{header}:\s*(\S+)", text, re.M | re.I)
        if m:
            (arrived if port == node_port else forwarded).setdefault(m.group(1), at)
    return [round((forwarded[cid] - arrived[sip]) * 1000, 3) for cid, sip in calls.items()
            if cid in forwarded and sip in arrived]


def dispatcher_flags(ctl, uri):
    out = subprocess.run(["kamcmd", "-s", f"unix:{ctl}", "dispatcher.list"], capture_output=True, text=True).stdout
    m = re.search(re.escape(uri) + r".*?FLAGS:\s*(\w+)", out, re.S)
    return m.group(1) if m else ""


def failover(binary, workdir, pg, runs):
    """3. kill -9 of one of two nodes behind Kamailio and HAProxy, under calls and reservations."""
    rows = []
    for run in range(runs):
        url = pg.new_database()[1]
        a = Node(binary, workdir, f"fail-{run}-a", url, front_proxy=True)
        # Both nodes forward to one callee: a's.
        b = Node(binary, workdir, f"fail-{run}-b", url, front_proxy=True, callee=a.callee)
        front_sip, front_http = callbench.free_ports(2)
        kam, ctl = kamailio(workdir, front_sip, [a.sip, b.sip])
        hap, hap_log = haproxy(workdir, front_http, [a.http, b.http])
        # Reservations at 20/s through HAProxy for the whole episode.
        stop, served = threading.Event(), {"ok": 0, "failed": 0}

        def reserve_loop():
            i = 0
            while not stop.is_set():
                i += 1
                body = json.dumps({"client_id": f"v-{i % 500}", "page": "http://shop.test/?utm_source=google"}).encode()
                req = urllib.request.Request(f"http://127.0.0.1:{front_http}/v1/projects/bench/reservations", data=body,
                                             headers={"Content-Type": "application/json"})
                try:
                    urllib.request.urlopen(req, timeout=5).read()
                    served["ok"] += 1
                except Exception:
                    served["failed"] += 1
                time.sleep(0.05)
        t = threading.Thread(target=reserve_loop)
        t.start()
        # Calls at 10/s through Kamailio: 25 s of them, b killed 5 s in.
        tag = f"failover-{run}"
        box = {}
        loader = threading.Thread(target=lambda: box.update(r=run_load_to(
            "127.0.0.3", front_sip, a.callee, workdir, 250, 10, 40, 500, tag)))
        loader.start()
        time.sleep(5)
        killed = time.monotonic()
        b.stop(signal.SIGKILL)
        uri = f"sip:127.0.0.1:{b.sip}"
        kam_inactive = hap_down = None
        while time.monotonic() - killed < 15 and (kam_inactive is None or hap_down is None):
            if kam_inactive is None and dispatcher_flags(ctl, uri).startswith("I"):
                kam_inactive = time.monotonic() - killed
            if hap_down is None and "node-1 is DOWN" in open(hap_log).read():
                hap_down = time.monotonic() - killed
            time.sleep(0.05)
        loader.join()
        stop.set()
        t.join()
        ok, failed = box["r"][:2]
        # The run's slowest setup: a call Kamailio sent to the dead node before it was left out, answered by the
        # survivor after fr_timer.
        times = callbench.setup_times(os.path.join(workdir, tag))
        after = round(times[-1] / 1000, 2) if times else None
        rows.append(dict(kam=kam_inactive, hap=hap_down, slowest=after, calls_ok=ok, calls_failed=failed,
                         reservations_ok=served["ok"], reservations_failed=served["failed"]))
        print(tag, json.dumps(rows[-1]), flush=True)
        stop_group(kam)
        hap.kill()
        a.stop()
    lines = ["| after kill -9 of one of two nodes | median of runs |", "| --- | --- |",
             f"| to Kamailio marking it inactive, s | {median([r['kam'] for r in rows])} |",
             f"| to HAProxy marking it down, s | {median([r['hap'] for r in rows])} |",
             f"| slowest call setup of the run (a call sent to the dead node, answered by the survivor), s | {median([r['slowest'] for r in rows])} |",
             f"| calls answered / failed (all runs) | {sum(r['calls_ok'] for r in rows)} / {sum(r['calls_failed'] for r in rows)} |",
             f"| reservations served / failed (all runs) | {sum(r['reservations_ok'] for r in rows)} / {sum(r['reservations_failed'] for r in rows)} |"]
    return "\n".join(lines)


def run_load_to(ip, port, callee_port, workdir, calls, rate, concurrent, hold_ms, tag):
    """callbench.run_load's sipp pair, the caller sending to `ip`:`port` (Kamailio) with a time stamp per call."""
    base = os.path.join(workdir, tag)
    os.makedirs(base, exist_ok=True)
    common = ["-nostdin", "-trace_stat", "-max_socket", "4096", "-timeout", "120s"]
    callee = owned(subprocess.Popen(["sipp", "-sf", callbench.scenario("callee.xml", None, workdir), "-i", "127.0.0.1", "-p",
                                     str(callee_port), "-mi", "127.0.0.1", "-mp", str(callbench.CALLEE_MEDIA), "-m", str(calls),
                                     "-stf", f"{base}/callee.csv"] + common, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    cwd=base))
    time.sleep(0.3)
    caller = owned(subprocess.Popen(["sipp", "-sf", callbench.scenario("caller.xml", None, workdir), "-i", "127.0.0.1", "-p",
                                     str(callbench.CALLER), "-mi", "127.0.0.1", "-mp", str(callbench.CALLER_MEDIA), "-s",
                                     "84990000000", "-m", str(calls), "-r", str(rate), "-l", str(concurrent), "-d", str(hold_ms),
                                     "-stf", f"{base}/caller.csv", "-trace_rtt", "-rtt_freq", "1", f"{ip}:{port}"] + common,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=base))
    caller.wait()
    try:
        callee.wait(timeout=20)
    except subprocess.TimeoutExpired:
        callee.kill()
    stats = open(f"{base}/caller.csv").read().strip().splitlines()
    head, last = stats[0].split(";"), stats[-1].split(";")
    return int(last[head.index("SuccessfulCall(C)")]), int(last[head.index("FailedCall(C)")])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build/release/calltrack"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="reservations,setup,failover")
    ap.add_argument("--compare", help="with --only setup: another binary's forwarded INVITE on SQLite beside this one's")
    args = ap.parse_args()
    for tool in ("wrk", "sipp", "haproxy", "kamailio", "kamcmd", "tcpdump"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: make bench installs it")
    workdir = tempfile.mkdtemp(prefix="calltrack-cluster-")
    pg = Postgres(workdir)
    parts = []
    try:
        only = args.only.split(",")
        if "reservations" in only:
            parts.append(reservations(args.binary, workdir, pg, args.seconds, args.connections, args.runs))
        if "setup" in only and args.compare:
            parts.append(call_setup(args.binary, workdir, pg, args.seconds, args.runs, engines=("SQLite", "SQLite, other binary"),
                                    binaries={"SQLite, other binary": args.compare}))
        elif "setup" in only:
            parts.append(call_setup(args.binary, workdir, pg, args.seconds, args.runs))
        if "failover" in only:
            parts.append(failover(args.binary, workdir, pg, args.runs))
    finally:
        pg.stop()
    table = "\n\n".join(parts)
    print(table)
    path = callbench.save_results("cluster", "Several nodes on PostgreSQL against one on SQLite", table)
    print(f"written to {path}; work files in {workdir}")


if __name__ == "__main__":
    main()
