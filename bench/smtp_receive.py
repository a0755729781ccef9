#!/usr/bin/env python3
"""SMTP receive benchmark for mailroomd.

Starts a release mailroomd on a temporary data directory, delivers N
messages over M parallel connections to a local mailbox on port
offset+25, and prints the receive rate and the server's peak RSS.

    python3 bench/smtp_receive.py                       # 2000 msgs, 8 connections
    python3 bench/smtp_receive.py -n 5000 -c 16 --size 8192
    python3 bench/smtp_receive.py --tool smtp-source    # load from Postfix's smtp-source
    python3 bench/smtp_receive.py --compare-postfix     # same load against a private Postfix

The server caps connections per client address. The Python load spreads
its connections over 127.0.0.x source addresses; smtp-source always
connects from 127.0.0.1, so keep its -c below that cap.

The binary is taken from $MAILROOMD, else $CARGO_TARGET_DIR/release/mailroomd,
else <repo>/target/release/mailroomd. Build it first (cargo build --release).
Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))

from mailroom import BinaryMissing, MailServer, RawSMTP, pick_offset, require_binary  # noqa: E402
from peers import _master_cf  # noqa: E402

RCPT = "alice@example.test"
SENDER = "bench@remote.test"


# --------------------------------------------------------------------------
# Load generation
# --------------------------------------------------------------------------


def build_message(worker: int, seq: int, size: int) -> bytes:
    head = (
        f"From: <{SENDER}>\r\nTo: <{RCPT}>\r\nSubject: bench {worker}-{seq}\r\n"
        f"Message-ID: <bench-{worker}-{seq}@remote.test>\r\n\r\n"
    ).encode()
    line = b"The quick brown fox jumps over the lazy dog. 0123456789 abcdefghij\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return head + body


def _worker(args) -> tuple[int, int, str]:
    host, port, worker, count, size, barrier = args
    ok = 0
    try:
        # The server caps connections per client address; with many
        # connections, spread them over loopback source addresses.
        source = f"127.0.0.{1 + worker // 32}" if host == "127.0.0.1" else None
        c = RawSMTP(host, port, timeout=60, source=source)
        c.ehlo("bench.test")
        barrier.wait()
        envelope = f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RCPT}>\r\nDATA\r\n".encode()
        for seq in range(count):
            c.send(envelope)  # PIPELINING: the envelope in one write
            codes = [c.reply().code for _ in range(3)]
            if codes != [250, 250, 354]:
                return worker, ok, f"envelope replies {codes}"
            c.send(build_message(worker, seq, size) + b".\r\n")
            r = c.reply()
            if r.code != 250:
                return worker, ok, f"DATA reply {r}"
            ok += 1
        c.quit()
        return worker, ok, ""
    except Exception as e:  # noqa: BLE001 - reported in the table
        try:
            barrier.abort()
        except Exception:  # noqa: BLE001
            pass
        return worker, ok, f"{type(e).__name__}: {e}"


def python_load(host: str, port: int, messages: int, connections: int, size: int) -> tuple[float, int, list[str]]:
    ctx = mp.get_context("fork")
    barrier = ctx.Manager().Barrier(connections + 1)
    share = [messages // connections + (1 if i < messages % connections else 0) for i in range(connections)]
    with ctx.Pool(connections) as pool:
        result = pool.map_async(_worker, [(host, port, i, share[i], size, barrier) for i in range(connections)])
        barrier.wait(timeout=60)  # every connection is open and greeted
        t0 = time.perf_counter()
        results = result.get(timeout=3600)
        elapsed = time.perf_counter() - t0
    sent = sum(ok for _, ok, _ in results)
    errors = [f"worker {w}: {err}" for w, _, err in results if err]
    return elapsed, sent, errors


def smtp_source_load(host: str, port: int, messages: int, connections: int, size: int) -> tuple[float, int, list[str]]:
    tool = shutil.which("smtp-source")
    if not tool:
        raise SystemExit("smtp-source is not installed (apt-get install postfix)")
    cmd = [tool, "-s", str(connections), "-m", str(messages), "-l", str(size),
           "-f", SENDER, "-t", RCPT, "-M", "bench.test", f"{host}:{port}"]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    elapsed = time.perf_counter() - t0
    errors = [] if res.returncode == 0 else [f"smtp-source exited {res.returncode}: {res.stderr.strip()[:500]}"]
    # smtp-source reports nothing per message; the mailbox count is the judge.
    return elapsed, messages if res.returncode == 0 else 0, errors


# --------------------------------------------------------------------------
# Process memory
# --------------------------------------------------------------------------


def status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid: int) -> int:
    """Proportional set size: shared pages split among the processes sharing them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


class RssSampler:
    """Samples the summed PSS of a process tree (for multi-process servers)."""

    def __init__(self, root_pid: int, interval: float = 0.05):
        self.root, self.interval = root_pid, interval
        self.peak_kb = 0
        self._stop = mp.get_context("fork").Event()
        self._peak = mp.get_context("fork").Value("q", 0)
        self._proc = mp.get_context("fork").Process(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            total = sum(pss_kb(p) for p in descendants(self.root))
            with self._peak.get_lock():
                self._peak.value = max(self._peak.value, total)
            time.sleep(self.interval)

    def __enter__(self):
        self._proc.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._proc.join(5)
        self.peak_kb = self._peak.value


# --------------------------------------------------------------------------
# mailroomd
# --------------------------------------------------------------------------


def count_pop3(srv: MailServer, user: str, password: str) -> int:
    p = srv.pop3(user, password)
    try:
        return p.stat()[0]
    finally:
        p.quit()


def run_mailroom(args, workdir: Path) -> dict:
    binary = require_binary()
    data = workdir / "mailroom-data"
    data.mkdir()
    srv = MailServer(data_dir=data, log_path=workdir / "mailroomd.log", binary=binary)
    srv.cli("domain", "add", "example.test")
    srv.cli("account", "add", RCPT, "--password", "bench-pw")
    srv.start()
    try:
        host, port = srv.addr("smtp")
        rss_start = status_kb(srv.pid, "VmRSS")
        load = smtp_source_load if args.tool == "smtp-source" else python_load
        t0 = time.perf_counter()
        elapsed, sent, errors = load(host, port, args.messages, args.connections, args.size)
        # Delivery to a local mailbox is complete once POP3 shows every message.
        deadline = time.monotonic() + 120
        while (stored := count_pop3(srv, RCPT, "bench-pw")) < sent and time.monotonic() < deadline:
            time.sleep(0.05)
        elapsed_delivered = time.perf_counter() - t0
        hwm = status_kb(srv.pid, "VmHWM")
        rss_end = status_kb(srv.pid, "VmRSS")
    finally:
        srv.stop()
    return {
        "name": _mailroomd_version(binary),
        "elapsed": elapsed, "sent": sent, "stored": stored, "errors": errors,
        "elapsed_delivered": elapsed_delivered,
        "rss_start_kb": rss_start, "rss_end_kb": rss_end, "peak_kb": hwm,
        "peak_note": "VmHWM",
        "log": srv.log_path,
    }


def _mailroomd_version(binary: Path) -> str:
    res = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
    return res.stdout.strip() or "mailroomd"


# --------------------------------------------------------------------------
# Postfix, for comparison
# --------------------------------------------------------------------------


def free_port() -> int:
    off = pick_offset("127.0.0.1")
    return off + 25


def postfix_master_cf(port: int) -> str:
    """Debian's master.cf with smtpd moved to a loopback port and no chroot."""
    return _master_cf(f"127.0.0.1:{port}")


def run_postfix(args, workdir: Path) -> dict:
    if os.geteuid() != 0:
        raise RuntimeError("Postfix needs root")
    if not shutil.which("postfix"):
        raise RuntimeError("postfix is not installed")
    pf = workdir / "postfix"
    etc, spool, data, mail = pf / "etc", pf / "spool", pf / "data", pf / "mail"
    for d in (etc, spool, data, mail):
        d.mkdir(parents=True)
    # Postfix daemons drop privileges: they must be able to reach their directories.
    os.chmod(workdir, 0o755)
    for d in (pf, etc, spool, data, mail):
        os.chmod(d, 0o755)
    owner = pwd.getpwnam("postfix")
    os.chown(data, owner.pw_uid, owner.pw_gid)
    os.chown(mail, owner.pw_uid, owner.pw_gid)
    port = free_port()
    (etc / "vmailbox").write_text(f"{RCPT} example.test/alice/\n")
    (etc / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
myhostname = bench-postfix.localhost
mydomain = localhost
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
local_recipient_maps =
alias_maps =
alias_database =
virtual_mailbox_domains = example.test
virtual_mailbox_base = {mail}
virtual_mailbox_maps = texthash:{etc}/vmailbox
virtual_uid_maps = static:{owner.pw_uid}
virtual_gid_maps = static:{owner.pw_gid}
virtual_minimum_uid = {min(owner.pw_uid, 100)}
virtual_transport = virtual
message_size_limit = 26214400
smtpd_banner = $myhostname ESMTP
disable_dns_lookups = yes
smtp_host_lookup = native
smtpd_peername_lookup = no
default_transport = error:no remote delivery in the benchmark
relay_transport = error:no remote delivery in the benchmark
maillog_file = {pf}/maillog
maillog_file_prefixes = {pf}
biff = no
""")
    (etc / "master.cf").write_text(postfix_master_cf(port))
    env = dict(os.environ, MAIL_CONFIG=str(etc))

    def postfix(*a: str, check: bool = True):
        res = subprocess.run(["postfix", "-c", str(etc), *a], capture_output=True, text=True, env=env, timeout=120)
        if check and res.returncode != 0:
            raise RuntimeError(f"postfix {' '.join(a)} failed: {res.stdout}{res.stderr}")
        return res

    postfix("set-permissions", check=False)
    postfix("start")
    master_pid = None
    try:
        master_pid = _wait_postfix(data, port)
        maildir = mail / "example.test" / "alice"
        with RssSampler(master_pid) as rss:
            load = smtp_source_load if args.tool == "smtp-source" else python_load
            t0 = time.perf_counter()
            elapsed, sent, errors = load("127.0.0.1", port, args.messages, args.connections, args.size)
            deadline = time.monotonic() + 300
            while (stored := _maildir_count(maildir)) < sent and time.monotonic() < deadline:
                time.sleep(0.05)
            elapsed_delivered = time.perf_counter() - t0
    finally:
        postfix("stop", check=False)
        deadline = time.monotonic() + 20
        while master_pid and Path(f"/proc/{master_pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    return {
        "name": f"postfix {_postfix_version()}",
        "elapsed": elapsed, "sent": sent, "stored": stored, "errors": errors,
        "elapsed_delivered": elapsed_delivered,
        "rss_start_kb": 0, "rss_end_kb": 0, "peak_kb": rss.peak_kb,
        "peak_note": "peak of summed PSS over all processes (sampled)",
        "log": pf / "maillog",
    }


def _wait_postfix(data: Path, port: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pid_file = data.parent / "spool" / "pid" / "master.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return pid
        except (OSError, ValueError, IndexError):
            time.sleep(0.1)
    raise RuntimeError("postfix did not start listening")


def _maildir_count(maildir: Path) -> int:
    try:
        return len(os.listdir(maildir / "new")) + len(os.listdir(maildir / "cur"))
    except OSError:
        return 0


def _postfix_version() -> str:
    res = subprocess.run(["postconf", "-d", "-h", "mail_version"], capture_output=True, text=True)
    return res.stdout.strip()


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def print_table(args, rows: list[dict]) -> None:
    print()
    print(f"SMTP receive: {args.messages} messages of ~{args.size} bytes over {args.connections} "
          f"connections, load from {args.tool}, to {RCPT} on 127.0.0.1")
    print()
    headers = ["server", "accepted", "stored", "seconds", "msgs/s", "peak RSS MiB", "peak RSS is"]
    table = []
    for r in rows:
        rate = r["sent"] / r["elapsed"] if r["elapsed"] else 0.0
        table.append([
            r["name"], str(r["sent"]), str(r["stored"]), f"{r['elapsed']:.2f}", f"{rate:,.0f}",
            f"{r['peak_kb'] / 1024:.1f}", r["peak_note"],
        ])
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in table:
        print("  ".join(c.rjust(w) if i in (1, 2, 3, 4, 5) else c.ljust(w)
                        for i, (c, w) in enumerate(zip(row, widths))))
    print()
    for r in rows:
        if "elapsed_delivered" in r:
            print(f"{r['name']}: {r['elapsed_delivered']:.2f} s until every message was in the mailbox "
                  f"({r['sent'] / r['elapsed_delivered']:,.0f} msgs/s end to end)")
        for e in r["errors"][:10]:
            print(f"  error ({r['name']}): {e}")
        if r["stored"] != r["sent"]:
            print(f"  WARNING ({r['name']}): {r['sent']} accepted but {r['stored']} stored; log: {r['log']}")
    if len(rows) == 2 and all(r["elapsed"] for r in rows):
        a, b = (r["sent"] / r["elapsed"] for r in rows)
        print(f"\nmailroomd / postfix acceptance rate: {a:,.0f} / {b:,.0f} msgs/s = {a / b:.2f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--messages", type=int, default=2000)
    ap.add_argument("-c", "--connections", type=int, default=8)
    ap.add_argument("--size", type=int, default=2048, help="approximate message size in bytes")
    ap.add_argument("--tool", choices=["python", "smtp-source"], default="python")
    ap.add_argument("--compare-postfix", action="store_true",
                    help="also run the same load against a private Postfix instance (root)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    if args.messages < 1 or args.connections < 1 or args.connections > args.messages:
        ap.error("need 1 <= connections <= messages")

    workdir = Path(tempfile.mkdtemp(prefix="mailroom-bench-"))
    rows = []
    try:
        try:
            rows.append(run_mailroom(args, workdir))
        except BinaryMissing as e:
            print(e, file=sys.stderr)
            return 2
        if args.compare_postfix:
            try:
                rows.append(run_postfix(args, workdir))
            except Exception as e:  # noqa: BLE001
                print(f"postfix comparison skipped: {e}", file=sys.stderr)
        print_table(args, rows)
    finally:
        if args.keep:
            print(f"\nkept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(r["stored"] == r["sent"] == args.messages and not r["errors"] for r in rows) else 1


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
