#!/usr/bin/env python3
"""CallTrack's fault suite: real faults injected while calls, reservations and deliveries run.

Each fault runs against a CallTrack of its own (SQLite, loopback, free ports) under a load of sipp
calls with G.711 audio both ways (recorded), reservations from the public route and webhooks to a
receiver, and is judged by what was lost: a call sipp had any response for and that is not in
GET /v1/calls, an acknowledged reservation not in the database, a delivery that never reached a
healthy receiver. Faults:

  kill9     kill -9 at a random moment (--rounds times), restart, check every call and its outcome
  sigterm   SIGTERM under load: calls in progress end within drain_seconds, nothing lost
  dblock    an sqlite3 holding a write transaction for 10 s (a careless backup)
  diskfull  the recordings folder on a full tmpfs, then space freed
  freeze    a callee frozen with SIGSTOP mid-call: the media timeout ends the call on both sides
  netem     5 % loss, reordering and 80 ms jitter on SIP and RTP (tc netem in a network namespace)
  webhooks  receivers that answer 500, hang for 30 s, or reset the connection, beside a healthy one

Prints a Markdown table (what docs/reliability.md shows) and exits 1 if anything was lost or a
fault's own check failed. `--short` is the version `make test` runs.
"""
import argparse, glob, json, os, random, signal, socket, sqlite3, struct, subprocess, sys, tempfile, threading, time
import urllib.error, urllib.request, warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)  # audioop: Python 3.11's A-law, removed in 3.13

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from callbench import PCAP, bench_config, free_ports, long_pcap, owned, scenario, start_calltrack  # noqa: E402

POOL = '[{name: main, numbers: [' + ", ".join(f'"+749900{i:05d}"' for i in range(1, 1001)) + '], static: "+74990000000"}]'


def caller_waits_for_bye(workdir, pcap):
    """A caller that plays `pcap` and waits for the other side's BYE (the freeze fault)."""
    text = open(os.path.join(ROOT, "bench", "scenarios", "caller.xml")).read()
    head, tail = text.split("<pause/>", 1)
    tail = tail[:tail.index("<send retrans")]
    path = os.path.join(workdir, "caller-waits.xml")
    bye = """<recv request="BYE" timeout="30000"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

  ]]></send>
</scenario>
"""
    audio = f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>'
    open(path, "w").write(head.replace("<!--AUDIO-->", audio) + bye)
    return path


class Receiver:
    """A webhook receiver: `ok` answers 204, `500` answers 500, `hang` reads and answers nothing for
    30 s, `reset` closes every connection with a reset. Counts the distinct deliveries it accepted."""

    def __init__(self, port, mode):
        self.port, self.mode, self.ids, self.running = port, mode, set(), True
        self.last_at = 0.0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(512)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        try:
            if self.mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                return
            reader = conn.makefile("rb")
            while self.running:
                line = reader.readline()
                if not line:
                    return
                length = 0
                while line not in (b"\r\n", b"\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                    line = reader.readline()
                body = reader.read(length)
                if self.mode == "hang":
                    time.sleep(30)
                    return
                if self.mode == "500":
                    conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
                    continue
                try:
                    self.ids.add(json.loads(body)["id"])
                    self.last_at = time.time()
                except (ValueError, KeyError):
                    pass
                conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.running = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class Node:
    """One CallTrack with its own folder, ports, database and webhook receivers."""

    def __init__(self, binary, name, receivers=("ok",), sip_extra="", before_start=None):
        self.binary = binary
        self.workdir = tempfile.mkdtemp(prefix=f"calltrack-chaos-{name}-")
        self.sip, self.http, self.callee, self.caller, self.callee_media, self.caller_media, *hooks = free_ports(
            6 + len(receivers))
        self.receivers = [Receiver(port, mode) for port, mode in zip(hooks, receivers)]
        webhooks = ", ".join(f'{{url: "http://127.0.0.1:{r.port}/hook", secret_env: CHAOS_SECRET}}'
                             for r in self.receivers)
        self.database = os.path.join(self.workdir, "chaos.sqlite")
        self.recordings = os.path.join(self.workdir, "recordings")
        os.makedirs(self.recordings)
        if before_start:
            before_start(self)
        self.config = bench_config(
            self.workdir, self.sip, self.http, self.callee, name="chaos",
            sip="rtp_ports: {min: 30000, max: 39999}\ndrain_seconds: 3\nrtp_timeout_seconds: 4" + sip_extra,
            http="reservations_per_minute: 100000000",
            sections="delivery:\n  retry_base_seconds: 1\n  probe_max_seconds: 2\n"
                     "tracking:\n  max_numbers_per_address: 1000000",
            project=f"record: true\nring_timeout_seconds: 30\nreservation_ttl_seconds: 30\nwebhooks: [{webhooks}]",
            pools=POOL)
        self.proc = None
        self.start()

    def start(self):
        self.proc, self.log = start_calltrack(self.binary, self.workdir, self.config, self.http,
                                              env={"CHAOS_SECRET": "chaos"}, attempts=600)

    def api(self, path):
        req = urllib.request.Request(f"http://127.0.0.1:{self.http}{path}", headers={"Authorization": "Bearer bench"})
        return json.load(urllib.request.urlopen(req, timeout=10))

    def calls(self):
        """Every call on record, through GET /v1/calls page by page."""
        out, after = [], None
        while True:
            page = self.api("/v1/calls?limit=500" + (f"&cursor={after}" if after else ""))
            out += page["calls"]
            after = page.get("next_cursor")
            if not after:
                return out

    def reserve(self, client):
        body = json.dumps({"client_id": client, "page": "http://shop.test/?utm_source=google&utm_medium=cpc"}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.http}/v1/projects/bench/reservations", data=body,
                                     headers={"Content-Type": "application/json"}, method="POST")
        return json.load(urllib.request.urlopen(req, timeout=5))

    def query(self, sql, *args):
        db = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def backlog(self):
        return self.query("SELECT count(*) FROM outbox WHERE status = 'pending'")[0][0]

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
        for r in self.receivers:
            r.stop()


class Load:
    """sipp calls (a callee that answers, a caller at `rate`/s holding `hold_ms`, audio both ways) and
    reservations at `reserve_rate`/s from new visitors, until stopped."""

    def __init__(self, node, rate=20, hold_ms=3000, calls=100000, reserve_rate=20, caller_xml=None, audio_pcap=None):
        self.node, self.base = node, os.path.join(node.workdir, f"load-{time.monotonic_ns()}")
        os.makedirs(self.base)
        pcap = long_pcap(hold_ms / 1000 + 1, self.base)
        common = ["-nostdin", "-max_socket", "4096", "-timeout", "600s", "-trace_shortmsg", "-trace_err"]
        self.callee = owned(subprocess.Popen(
            ["sipp", "-sf", scenario("callee.xml", pcap, self.base), "-i", "127.0.0.1", "-p", str(node.callee),
             "-mi", "127.0.0.1", "-mp", str(node.callee_media)] + common,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.base))
        time.sleep(0.3)
        self.caller = owned(subprocess.Popen(
            ["sipp", "-sf", caller_xml or scenario("caller.xml", audio_pcap or pcap, self.base), "-i", "127.0.0.1",
             "-p", str(node.caller), "-mi", "127.0.0.1", "-mp", str(node.caller_media), "-s", "84990000001",
             "-m", str(calls), "-r", str(rate), "-l", str(rate * (hold_ms // 1000 + 5)), "-d", str(hold_ms),
             f"127.0.0.1:{node.sip}"] + common,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.base))
        self.started = time.time()
        self.acknowledged, self.latencies, self.refused, self.running = [], [], 0, True
        self.reserver = threading.Thread(target=self.reserve, args=(reserve_rate,), daemon=True)
        self.reserver.start()

    def reserve(self, rate):
        n = 0
        while self.running:
            n += 1
            try:
                t0 = time.monotonic()
                r = self.node.reserve(f"chaos-{os.getpid()}-{time.monotonic_ns()}-{n}")
                self.latencies.append(time.monotonic() - t0)
                if r.get("reservation_id"):
                    self.acknowledged.append(r["reservation_id"])
            except (OSError, ValueError, urllib.error.URLError):
                self.refused += 1  # CallTrack is down (kill -9): nothing was acknowledged
            time.sleep(1 / rate)

    def stop(self):
        self.running = False
        self.reserver.join()
        # sipp: stop placing calls, end the ones up. The caller first, and the callee once it is done: a
        # callee stopped at the same moment could leave the caller's last INVITE unanswered (a call that
        # then rings until ring_timeout_seconds, with its events half a minute late).
        deadline = time.time() + 15
        for p in (self.caller, self.callee):
            if p.poll() is None:
                p.send_signal(signal.SIGUSR1)
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def kill(self):
        self.running = False
        self.reserver.join()
        for p in (self.caller, self.callee):
            if p.poll() is None:
                p.kill()
                p.wait()

    def messages(self, side="uac"):
        """sipp's short message log of the caller: (epoch, direction, call id, cseq, first line)."""
        rows = []
        who = "caller" if side == "uac" else "callee"
        for path in glob.glob(os.path.join(self.base, f"*{who}*shortmessages.log")):
            for line in open(path, errors="replace"):
                f = line.rstrip("\n").split("\t")
                if len(f) >= 7:
                    rows.append((float(f[2]), f[3], f[4], f[5], f[6]))
        return rows

    def reservation_p99_ms(self):
        times = sorted(self.latencies)
        return times[int(len(times) * 0.99)] * 1000 if times else 0

    def answered_ids(self):
        """Call-IDs of the caller's INVITEs that CallTrack took on: it answers 100 Trying first to every
        call it keeps, so a final refusal alone (503 while draining) was stateless and leaves no record."""
        return {m[2] for m in self.messages() if m[1] == "R" and m[3].endswith("INVITE")
                and m[4].startswith(("SIP/2.0 1", "SIP/2.0 2"))}

    def refused_ids(self):
        return {m[2] for m in self.messages() if m[1] == "R" and m[3].endswith("INVITE")} - self.answered_ids()

    def finished_before(self, moment):
        """Call-IDs whose BYE the caller saw answered 200 before `moment`."""
        return {m[2] for m in self.messages() if m[1] == "R" and m[3].endswith("BYE") and m[4].startswith("SIP/2.0 200")
                and m[0] < moment}

    def failed_calls(self):
        errors = glob.glob(os.path.join(self.base, "*caller*errors.log"))
        stats = glob.glob(os.path.join(self.base, "*caller*_.csv"))
        return sum(1 for path in errors for line in open(path, errors="replace") if "Aborting call" in line), stats


def settle(node, load, seconds=30):
    """Waits until every call is final in the database and every delivery to the healthy receiver is done."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        open_calls = node.query("SELECT count(*) FROM calls WHERE status = 'in_progress'")[0][0]
        if open_calls == 0 and node.backlog() == 0:
            return True
        time.sleep(0.5)
    return False


def account(node, load, label, fault, extra_checks=()):
    """One row of the table: what sipp and the visitors were answered, what the database holds, what was lost."""
    calls = node.calls()
    stored = {c["sip_call_id"] for c in calls}
    seen = load.answered_ids()
    acknowledged = set(load.acknowledged)
    in_db = {r[0] for r in node.query("SELECT id FROM reservations")}
    healthy = [r for r in node.receivers if r.mode == "ok"]
    endpoints = [f"127.0.0.1:{r.port}" for r in healthy]
    made = sum(node.query("SELECT count(*) FROM outbox WHERE endpoint LIKE ?", f"%{e}%")[0][0] for e in endpoints)
    delivered = sum(len(r.ids) for r in healthy)
    lost = {"calls": len(seen - stored), "reservations": len(acknowledged - in_db),
            "deliveries": max(0, made - delivered)}
    failures = [f"{k}: {v} lost" for k, v in lost.items() if v]
    failures += [text for ok, text in extra_checks if not ok]
    return {"fault": fault, "load": label, "calls_seen": len(seen), "calls_stored": len(seen & stored),
            "reservations": len(acknowledged), "reservations_stored": len(acknowledged & in_db),
            "deliveries": made, "delivered": delivered, "lost": sum(lost.values()), "failures": failures,
            "calls": calls}


LOAD = "20 calls/s of 3 s recorded calls, 20 reservations/s, webhooks"


def fault_kill9(binary, rounds):
    rows = []
    node = Node(binary, "kill9")
    made = delivered = 0
    try:
        for i in range(rounds):
            load = Load(node)
            time.sleep(random.uniform(2, 6))
            killed_at = time.time()
            node.kill9()
            load.kill()
            node.start()
            settle(node, load)
            row = account(node, load, LOAD, f"kill -9 (round {i + 1})")
            # The node and its receiver live through every round: count this round's deliveries only.
            row["deliveries"], row["delivered"], made, delivered = (
                row["deliveries"] - made, row["delivered"] - delivered, row["deliveries"], row["delivered"])
            seen = load.answered_ids()
            by_sip = {c["sip_call_id"]: c for c in row["calls"] if c["sip_call_id"] in seen}
            finished = load.finished_before(killed_at)
            wrongly_interrupted = [c for c in finished if by_sip.get(c, {}).get("interrupted")]
            late = [c for c in by_sip.values() if c["interrupted"] and c.get("ended_at")
                    and iso(c["ended_at"]) > killed_at + 1.5]
            unplayable = [c for c in by_sip.values() if c["interrupted"]
                          and (c.get("recording") or {}).get("status") not in ("interrupted", "recorded", None)]
            row["failures"] += [f"{len(wrongly_interrupted)} calls that had ended are marked interrupted"] * bool(
                wrongly_interrupted)
            row["failures"] += [f"{len(late)} interrupted calls end after the kill"] * bool(late)
            row["failures"] += [f"{len(unplayable)} interrupted calls lost their recording"] * bool(unplayable)
            before = [killed_at - iso(c["ended_at"]) for c in by_sip.values() if c["interrupted"]]
            row["detail"] = (f"{len(finished)} ended before the kill with their outcome, {len(before)} interrupted, "
                             f"ending {min(before or [0]):.2f}–{max(before or [0]):.2f} s before the kill")
            rows.append(row)
    finally:
        node.stop()
    return rows


def iso(text):
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def fault_sigterm(binary):
    node = Node(binary, "sigterm")
    load = Load(node)
    time.sleep(4)
    t0 = time.time()
    node.proc.send_signal(signal.SIGTERM)
    node.proc.wait(timeout=60)
    took = time.time() - t0
    load.kill()
    node.start()
    settle(node, load)
    row = account(node, load, LOAD, "SIGTERM under load (drain_seconds 3)", [
        (took <= 3 + 3, f"the drain took {took:.1f} s"),
    ])
    interrupted = sum(c["interrupted"] for c in row["calls"])
    row["failures"] += [f"{interrupted} calls interrupted"] * bool(interrupted)
    row["detail"] = f"stopped in {took:.1f} s, {interrupted} interrupted"
    node.stop()
    return [row]


def fault_dblock(binary, hold):
    node = Node(binary, "dblock")
    load = Load(node)
    time.sleep(2)
    lock = subprocess.Popen(["sqlite3", node.database], stdin=subprocess.PIPE, text=True)
    lock.stdin.write("BEGIN IMMEDIATE;\nUPDATE calls SET caller = caller WHERE 0;\n")
    lock.stdin.flush()
    time.sleep(hold)
    lock.stdin.write("COMMIT;\n")
    lock.stdin.close()
    lock.wait()
    time.sleep(2)
    load.stop()
    done = settle(node, load, 60)
    failed, _ = load.failed_calls()
    row = account(node, load, LOAD, f"database locked by sqlite3 for {hold} s", [
        (done, "the writer did not catch up within 60 s"), (failed == 0, f"{failed} calls failed at sipp")])
    row["detail"] = f"{failed} calls failed during the lock; reservation p99 {load.reservation_p99_ms():.0f} ms"
    node.stop()
    return [row]


def fault_diskfull(binary):
    size = 64 * 1024 * 1024

    def mount(node):
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", node.recordings], check=True)
        # Leave a little room, so the disk fills during the load.
        with open(os.path.join(node.recordings, "filler"), "wb") as f:
            f.write(b"\0" * (size - 800 * 1024))

    node = Node(binary, "diskfull", before_start=mount)
    try:
        load = Load(node, rate=10)
        time.sleep(6)
        os.remove(os.path.join(node.recordings, "filler"))
        freed_at = time.time()
        time.sleep(6)
        load.stop()
        settle(node, load)
        row = account(node, load, "10 calls/s of 3 s recorded calls, 20 reservations/s, webhooks",
                      "recordings folder full (tmpfs), then freed")
        statuses = {}
        for c in row["calls"]:
            status = (c.get("recording") or {}).get("status")
            statuses[status] = statuses.get(status, 0) + 1
        failed = [c for c in row["calls"] if (c.get("recording") or {}).get("status") == "failed"]
        without_reason = [c for c in failed if not c["recording"].get("reason")]
        after = [c for c in row["calls"] if iso(c["started_at"]) > freed_at + 0.5]
        recorded_after = [c for c in after if (c.get("recording") or {}).get("status") == "recorded"]
        sipp_failed, _ = load.failed_calls()
        row["failures"] += [text for ok, text in [
            (len(failed) > 0, "no recording failed: the disk never filled"),
            (not without_reason, f"{len(without_reason)} failed recordings without a reason"),
            (after and len(recorded_after) == len(after), f"{len(after) - len(recorded_after)} of {len(after)} calls "
                                                          "after the space was freed were not recorded"),
            (sipp_failed == 0, f"{sipp_failed} calls failed at sipp")] if not ok]
        row["detail"] = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str)) + \
            (f"; reason: {failed[0]['recording']['reason'].split(' (')[0]}" if failed else "") + \
            f"; after the space was freed {len(recorded_after)} of {len(after)} recorded"
    finally:
        node.stop()
        subprocess.run(["umount", "-l", node.recordings])
    return [row]


def fault_freeze(binary):
    node = Node(binary, "freeze")
    pcap = long_pcap(20, node.workdir)
    load = Load(node, rate=1, calls=3, hold_ms=20000, reserve_rate=2,
                caller_xml=caller_waits_for_bye(node.workdir, pcap))
    time.sleep(4)
    load.callee.send_signal(signal.SIGSTOP)
    frozen_at = time.time()
    deadline = time.time() + 15
    while time.time() < deadline:
        byes = {m[2]: m[0] for m in load.messages() if m[1] == "R" and m[4].startswith("BYE")}
        if len(byes) == 3:
            break
        time.sleep(0.2)
    ended_in = max(byes.values() or [time.time()]) - frozen_at
    load.callee.send_signal(signal.SIGCONT)
    load.stop()
    settle(node, load)
    row = account(node, load, "3 calls with audio both ways, callee frozen after 4 s", "callee frozen (SIGSTOP)")
    timed_out = [c for c in row["calls"] if c["end_reason"] == "rtp_timeout"]
    row["failures"] += [text for ok, text in [
        (len(byes) == 3, f"the caller got BYE on {len(byes)} of 3 calls"),
        (len(timed_out) == 3, f"{len(timed_out)} of 3 calls ended rtp_timeout"),
        (ended_in < 4 + 3, f"the calls ended {ended_in:.1f} s after the freeze (rtp_timeout_seconds 4)")] if not ok]
    row["detail"] = f"caller got BYE {ended_in:.1f} s after the freeze; end_reason rtp_timeout on {len(timed_out)}"
    node.stop()
    return [row]


def fault_webhooks(binary):
    node = Node(binary, "webhooks", receivers=("ok", "500", "hang", "reset"))
    load = Load(node, rate=10)
    time.sleep(8)
    load.stop()
    last_call = time.time()
    done = False
    healthy = node.receivers[0]
    endpoint = f"127.0.0.1:{healthy.port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        # Every call final (its last events written), and every delivery to the healthy receiver there.
        open_calls = node.query("SELECT count(*) FROM calls WHERE status = 'in_progress'")[0][0]
        made, pending = node.query("SELECT count(*), coalesce(sum(status = 'pending'), 0) FROM outbox WHERE endpoint LIKE ?",
                                   f"%{endpoint}%")[0]
        if open_calls == 0 and made and pending == 0 and len(healthy.ids) >= made:
            done = True
            break
        time.sleep(0.2)
    behind = max(0.0, healthy.last_at - last_call)
    row = account(node, load, "10 calls/s of 3 s recorded calls, 20 reservations/s, webhooks to four receivers",
                  "webhook receivers answering 500, hanging 30 s, resetting", [
                      (done, "the healthy receiver did not get every delivery within 30 s"),
                      (behind < 3, f"the healthy receiver's last delivery came {behind:.1f} s after the last call")])
    pending = {mode: node.query("SELECT count(*) FROM outbox WHERE endpoint LIKE ? AND status = 'pending'",
                                f"%127.0.0.1:{r.port}%")[0][0] for r, mode in zip(node.receivers, ("ok", "500", "hang", "reset"))}
    row["detail"] = f"healthy receiver done {behind:.1f} s after the last call; still pending: " + \
        ", ".join(f"{k} {v}" for k, v in pending.items())
    node.stop()
    return [row]


NETNS = f"calltrack-chaos-{os.getpid()}"


def ramp_codes():
    """50 A-law codes whose levels rise, each decoding to a value of its own: ramp step k is code k."""
    import audioop
    by_level = {struct.unpack("<h", audioop.alaw2lin(bytes([b]), 2))[0]: b for b in range(256)}
    rising = sorted(level for level in by_level if level >= 200)
    return [by_level[level] for level in rising[::max(1, len(rising) // 50)][:50]]


def ramp_pcap(seconds, workdir, jitter_ms=0):
    """A G.711 A-law pcap whose every 30 ms packet is one constant level that steps up each packet, 50
    steps a cycle, so the order a recording holds the audio in can be read back from it. With
    `jitter_ms`, each packet leaves up to that much late, in the order of its leaving: packets overtake
    each other as they do on a network with jitter."""
    codes = ramp_codes()
    data = open(PCAP, "rb").read()
    header, frame = data[:24], data[24 + 16:24 + 16 + struct.unpack("<IIII", data[24:40])[2]]
    rtp = 14 + 20 + 8
    packets = []
    for k in range(int(seconds * 1000 / 30)):
        payload = bytes([codes[k % 50]]) * 240
        p = bytearray(frame[:rtp]) + struct.pack(">BBHII", 0x80, 8, k & 0xFFFF, (k * 240) & 0xFFFFFFFF, 0x1234) + payload
        p[14 + 20 + 6:14 + 20 + 8] = b"\x00\x00"
        packets.append((k * 0.03 + random.uniform(0, jitter_ms / 1000), bytes(p)))
    sent = sorted(range(len(packets)), key=lambda k: packets[k][0])
    overtaken = sum(1 for i, k in enumerate(sent) if k < max(sent[:i] or [-1]))
    packets.sort(key=lambda x: x[0])
    out = bytearray(header)
    for when, p in packets:
        out += struct.pack("<IIII", int(when), int((when % 1) * 1e6), len(p), len(p)) + p
    path = os.path.join(workdir, f"ramp-{seconds}s-{jitter_ms}ms.pcap")
    open(path, "wb").write(out)
    return path, overtaken / len(packets)


def ramp_order(wav_path):
    """Reads the caller's channel of a recording of `ramp_pcap`: (steps in order, steps out of order).
    A step is a change from one level to the next; a lost packet leaves silence, and the steps next to
    silence are not counted."""
    import audioop, wave
    levels = {audioop.alaw2lin(bytes([code]), 2): k for k, code in enumerate(ramp_codes())}
    w = wave.open(wav_path)
    frames = w.readframes(w.getnframes())
    left = struct.unpack(f"<{len(frames) // 2}h", frames)[0::w.getnchannels()]
    runs, last = [], None
    for v in left:
        if v != last:
            runs.append(v)
            last = v
    ordered = disordered = 0
    for a, b in zip(runs, runs[1:]):
        ka, kb = levels.get(struct.pack("<h", a)), levels.get(struct.pack("<h", b))
        if ka is None or kb is None:
            continue
        if (kb - ka) % 50 == 1:
            ordered += 1
        else:
            disordered += 1
    return ordered, disordered


def fault_netem(binary, args):
    """Runs the impaired-network fault in a network namespace of its own: this script again, inside it.
    Its loopback delays, loses and reorders packets with tc netem where the kernel has it; where it
    has not (no sch_netem), the kernel drops 5 % of the packets (iptables' statistic match) and the
    phones send their RTP with 80 ms of jitter, so it arrives out of order."""
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    try:
        run = ["ip", "netns", "exec", NETNS]
        subprocess.run(run + ["ip", "link", "set", "lo", "up"], check=True)
        netem = subprocess.run(run + ["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "80ms", "40ms",
                                      "loss", "5%", "reorder", "5%"], capture_output=True).returncode == 0
        if not netem:
            subprocess.run(run + ["iptables", "-A", "INPUT", "-p", "udp", "-m", "statistic", "--mode", "random",
                                  "--probability", "0.05", "-j", "DROP"], check=True)
        out = subprocess.run(run + [sys.executable, os.path.abspath(__file__), "--binary", binary, "--inside-netem",
                                    "netem" if netem else "iptables"], capture_output=True, text=True, timeout=600)
        sys.stderr.write(out.stderr)
        return [json.loads(out.stdout.strip().splitlines()[-1])]
    finally:
        subprocess.run(["ip", "netns", "delete", NETNS])


def fault_netem_inside(binary, how):
    node = Node(binary, "netem")
    jitter = 0 if how == "netem" else 80
    caller_pcap, late_share = ramp_pcap(4, node.workdir, jitter_ms=jitter)
    load = Load(node, rate=5, calls=40, reserve_rate=5, audio_pcap=caller_pcap)
    deadline = time.time() + 90
    while time.time() < deadline and load.caller.poll() is None:
        time.sleep(0.5)
    load.stop()
    settle(node, load, 60)
    failed, _ = load.failed_calls()
    fault = ("tc netem: 5 % loss, 5 % reordering, 80 ± 40 ms delay on SIP and RTP" if how == "netem" else
             "5 % of SIP and RTP packets dropped by the kernel, RTP sent with 80 ms jitter (out of order)")
    row = account(node, load, "5 calls/s of 3 s recorded calls (40), 5 reservations/s, webhooks", fault)
    # A call the lossy network kept from being answered has no recording at all.
    recorded = [c for c in row["calls"] if (c.get("recording") or {}).get("status") == "recorded"]
    answered = [c for c in row["calls"] if c["status"] == "answered"]
    ordered = disordered = 0
    for c in recorded:
        o, d = ramp_order(glob.glob(os.path.join(node.recordings, "*", "*", "*", c["id"] + ".wav"))[0])
        ordered, disordered = ordered + o, disordered + d
    row["failures"] += [text for ok, text in [
        (len(answered) >= 38, f"only {len(answered)} of 40 calls were answered"),
        (len(recorded) == len(answered), f"{len(answered) - len(recorded)} answered calls not recorded"),
        (ordered > 0 and disordered == 0, f"{disordered} of {ordered + disordered} steps of the recorded audio "
                                          "out of order")] if not ok]
    row["detail"] = (f"{len(answered)} of 40 answered, {failed} failed at sipp, {len(recorded)} recorded; "
                     + (f"{late_share * 100:.0f} % of the caller's packets sent after a later one; " if jitter else "")
                     + 
                     f"the caller's audio in order in every recording: {ordered} steps in order, {disordered} not")
    node.stop()
    row.pop("calls")
    return row


def table(rows):
    lines = ["| fault | load held | calls answered (sipp) / on record | reservations acknowledged / stored "
             "| deliveries made / received | lost | what else was seen |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['fault']} | {r['load']} | {r['calls_seen']} / {r['calls_stored']} | {r['reservations']} / "
                     f"{r['reservations_stored']} | {r['deliveries']} / {r['delivered']} | {r['lost']} | "
                     f"{r.get('detail', '')} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build/release/calltrack"))
    ap.add_argument("--rounds", type=int, default=10, help="kill -9 rounds")
    ap.add_argument("--short", action="store_true", help="3 kill -9 rounds and a 5 s lock (make test)")
    ap.add_argument("--only", help="comma-separated faults to run")
    ap.add_argument("--inside-netem", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.binary = os.path.abspath(args.binary)
    if args.inside_netem:
        print(json.dumps(fault_netem_inside(args.binary, args.inside_netem)))
        return
    faults = {
        "kill9": lambda: fault_kill9(args.binary, 3 if args.short else args.rounds),
        "sigterm": lambda: fault_sigterm(args.binary),
        "dblock": lambda: fault_dblock(args.binary, 5 if args.short else 10),
        "diskfull": lambda: fault_diskfull(args.binary),
        "freeze": lambda: fault_freeze(args.binary),
        "webhooks": lambda: fault_webhooks(args.binary),
        "netem": lambda: fault_netem(args.binary, args),
    }
    chosen = args.only.split(",") if args.only else list(faults)
    rows = []
    for name in chosen:
        if name in ("diskfull", "netem") and os.geteuid() != 0:
            print(f"{name}: skipped, it needs root (a tmpfs mount, a network namespace)", flush=True)
            continue
        started = time.time()
        got = faults[name]()
        for r in got:
            r.pop("calls", None)
            print(f"{name}: {r['fault']}: lost {r['lost']} ({time.time() - started:.0f} s)"
                  + "".join(f"\n  FAILED: {f}" for f in r["failures"]), flush=True)
        rows += got
    print()
    print(table(rows))
    out = os.path.join(ROOT, "chaos", "results")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, time.strftime("chaos-%Y%m%d-%H%M%S.md"))
    open(path, "w").write(f"# Fault suite, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores\n\n{table(rows)}\n")
    failures = [f"{r['fault']}: {f}" for r in rows for f in r["failures"]]
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
