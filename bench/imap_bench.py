#!/usr/bin/env python3
"""IMAP benchmark for mailroomd, optionally side by side with Dovecot.

Starts a release mailroomd on a temporary data directory (and, with
--compare-dovecot, a private Dovecot instance), runs the same client code
and workload against each, and prints one table. The phases, in the order
they run on each server (`--skip PHASE` leaves one out):

1. idle: 1,000 connections spread over 20 accounts, each logged in, INBOX
   (100 messages) selected and IDLE sent; the server's memory before and
   after, and 2 s after closing them all, gives KiB per idle connection.
   It runs first, on a server that has done little else.
2. fill: N small messages (default 100,000) go into one INBOX with
   MULTIAPPEND batches (the fill rate is reported, with progress on
   stderr); then, on fresh sessions, `SELECT INBOX` and
   `UID FETCH 1:* (FLAGS)` are timed.
3. search: 10,000 ~2 KB messages in another folder, 1% of them containing
   a rare word in the body; `SEARCH TEXT <word>` is timed (hits are checked).
4. append: ~4 KB messages, one APPEND per message (LITERAL+, each waits for
   its tagged OK), over 4 connections, one account per connection.

The server's CPU seconds in each phase are reported too (every process of
the server, threads included).

    python3 bench/imap_bench.py                               # mailroomd only, full sizes
    python3 bench/imap_bench.py --compare-dovecot             # and Dovecot, same run
    python3 bench/imap_bench.py --messages 10000 --idle 200   # quicker
    python3 bench/imap_bench.py --transport tls --skip fill   # IMAPS, without the big mailbox

Transport: `plain` (default) is IMAP without TLS on mailroomd's port
offset+143 with `plaintext_auth_on_trusted = true`, and on a Dovecot
listener with `ssl = no`; `tls` is implicit TLS (offset+993, and a Dovecot
imaps listener with a throwaway self-signed certificate), unverified.
Both servers always get the same transport.

Memory: mailroomd is one process; Dovecot runs one `imap` process per
session (and, with TLS, an `imap-login` proxy per connection), so for both
the PSS (proportional set size: shared pages split among the processes
sharing them) and the RSS of every process of the server are summed; the
per-connection figure and the ratio use PSS. For one process PSS and RSS
differ only by its share of shared libraries. `--mailroom-env KEY=VALUE`
passes environment to mailroomd, e.g. MALLOC_MMAP_THRESHOLD_=131072 to see
what glibc malloc's retention of freed memory adds to the idle figure.

Dovecot needs root and the Debian package (apt-get install dovecot-imapd);
it runs with its own configuration, base_dir, logs and mail (maildir by
default, --dovecot-format) under the temporary directory. Its accounts
use the same Argon2id password hash as mailroomd's (read from mailroomd's
database), so a login costs both servers the same.

The binary is taken from $MAILROOMD, else $CARGO_TARGET_DIR/release/mailroomd,
else <repo>/target/release/mailroomd. Build it first (cargo build --release).
Traffic stays on 127.0.0.1. This prints figures; it asserts no timings.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import email.utils
import os
import pwd
import grp
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))

from mailroom import BinaryMissing, MailServer, client_tls_context, require_binary  # noqa: E402
from peers import tcp_port_free  # noqa: E402
from smtp_receive import descendants  # noqa: E402

DOMAIN = "example.test"
PASSWORD = "bench-pw"
BENCH_USER = f"bench@{DOMAIN}"
SEARCH_FOLDER = "Search"
APPEND_FOLDER = "Appended"
PHASES = ("idle", "fill", "search", "append")


def log(msg: str) -> None:
    """Progress goes to stderr; the report to stdout."""
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# IMAP client: raw sockets, the same code for both servers
# --------------------------------------------------------------------------


class ImapError(RuntimeError):
    pass


class Imap:
    """A minimal IMAP client tuned to read large responses cheaply.

    `run(b"SELECT INBOX")` sends one tagged command and returns
    (everything before the tagged line, the tagged line). The tagged line is
    found by looking for CRLF + tag in newly received data only, so a
    100,000-line FETCH response costs little more than its recv() calls.
    Responses are not parsed otherwise (nothing here fetches literals that
    could contain a line looking like our tag).
    """

    def __init__(self, host: str, port: int, tls: bool, timeout: float = 600):
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            sock = client_tls_context().wrap_socket(sock)
        self.sock = sock
        self.buf = bytearray()
        self.n = 0
        self.greeting = self.line()
        if not self.greeting.startswith(b"* OK"):
            raise ImapError(f"greeting: {self.greeting[:200]!r}")

    def _recv(self) -> int:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ImapError(f"server closed the connection (pending {bytes(self.buf[:200])!r})")
        self.buf += chunk
        return len(chunk)

    def line(self) -> bytes:
        while (i := self.buf.find(b"\r\n")) < 0:
            self._recv()
        out = bytes(self.buf[:i])
        del self.buf[:i + 2]
        return out

    def tag(self) -> bytes:
        self.n += 1
        return b"T%d" % self.n

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def wait_tagged(self, tag: bytes) -> tuple[bytes, bytes]:
        needle = b"\r\n" + tag + b" "
        scanned = 0
        while True:
            if self.buf.startswith(tag + b" "):
                pos = -2
                break
            pos = self.buf.find(needle, max(0, scanned - len(needle)))
            if pos >= 0:
                break
            scanned = len(self.buf)
            self._recv()
        start = pos + 2
        while (end := self.buf.find(b"\r\n", start)) < 0:
            self._recv()
        body = bytes(self.buf[:max(pos + 2, 0)])
        tagged = bytes(self.buf[start + len(tag) + 1:end])
        del self.buf[:end + 2]
        return body, tagged

    def run(self, command: bytes, ok: bool = True) -> tuple[bytes, bytes]:
        tag = self.tag()
        self.send(tag + b" " + command + b"\r\n")
        body, tagged = self.wait_tagged(tag)
        if ok and not tagged.startswith(b"OK"):
            raise ImapError(f"{command[:80]!r} -> {tagged[:300]!r}")
        return body, tagged

    def login(self, user: str, password: str) -> None:
        self.run(b"LOGIN " + quote(user) + b" " + quote(password))

    def append(self, folder: str, messages: list[tuple[bytes, bytes]]) -> bytes:
        """APPEND (MULTIAPPEND when several) with LITERAL+; messages are (flags, data)."""
        tag = self.tag()
        parts = [tag, b" APPEND ", quote(folder)]
        for flags, data in messages:
            parts.append(b" (" + flags + b") {%d+}\r\n" % len(data))
            parts.append(data)
        parts.append(b"\r\n")
        self.send(b"".join(parts))
        _, tagged = self.wait_tagged(tag)
        if not tagged.startswith(b"OK"):
            raise ImapError(f"APPEND of {len(messages)} -> {tagged[:300]!r}")
        return tagged

    def capabilities(self) -> set[str]:
        body, _ = self.run(b"CAPABILITY")
        caps = set()
        for line in body.split(b"\r\n"):
            if line.upper().startswith(b"* CAPABILITY "):
                caps.update(line[13:].decode().upper().split())
        return caps

    def idle(self) -> None:
        tag = self.tag()
        self.send(tag + b" IDLE\r\n")
        while True:
            line = self.line()
            if line.startswith(b"+"):
                return
            if line.startswith(tag + b" "):
                raise ImapError(f"IDLE -> {line[:200]!r}")

    def logout(self) -> None:
        try:
            self.run(b"LOGOUT", ok=False)
        except (OSError, ImapError):
            pass
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def quote(s: str) -> bytes:
    return b'"' + s.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'


# --------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------

DATE0 = 1_700_000_000
WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november "
         "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu meeting "
         "report invoice budget schedule project update review quarterly office printer lunch "
         "server backup holiday contract customer supplier delivery").split()


def head(i: int, to: str, subject: str) -> bytes:
    return (
        f"From: Sender {i % 97} <sender{i % 97}@remote.test>\r\nTo: <{to}>\r\n"
        f"Subject: {subject}\r\nDate: {email.utils.formatdate(DATE0 + i * 37)}\r\n"
        f"Message-ID: <bench-{i}-{subject.split()[0]}@remote.test>\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    ).encode()


def fill_message(i: int) -> tuple[bytes, bytes]:
    """~350 bytes; two thirds \\Seen, one in 50 also \\Flagged."""
    data = head(i, BENCH_USER, f"fill {i}") + f"Hello, this is message {i}.\r\n".encode()
    flags = b"" if i % 3 == 0 else b"\\Seen"
    if i % 50 == 0:
        flags = (flags + b" \\Flagged").strip()
    return flags, data


def text_body(rng: random.Random, size: int, extra: str | None) -> bytes:
    lines, total = [], 0
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(11)) + "\r\n"
        lines.append(line)
        total += len(line)
    if extra is not None:
        k = rng.randrange(len(lines))
        words = lines[k].split()
        words.insert(rng.randrange(len(words)), extra)
        lines[k] = " ".join(words) + "\r\n"
    return "".join(lines).encode()


def search_message(i: int, size: int, word: str, every: int) -> tuple[bytes, bytes, bool]:
    rng = random.Random(i)
    hit = i % every == every // 2
    h = head(i, BENCH_USER, f"search {i} " + " ".join(rng.choice(WORDS) for _ in range(3)))
    return b"\\Seen", h + text_body(rng, max(64, size - len(h)), word if hit else None), hit


def append_message(worker: int, i: int, size: int) -> bytes:
    rng = random.Random(worker * 1_000_003 + i)
    h = head(i, f"app{worker}@{DOMAIN}", f"append {worker}-{i}")
    return h + text_body(rng, max(64, size - len(h)), None)


# --------------------------------------------------------------------------
# Process memory
# --------------------------------------------------------------------------


def _kb(path: str, field_name: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Mem:
    rss_kb: int
    pss_kb: int
    procs: int


def memory(root_pid: int) -> Mem:
    pids = [p for p in descendants(root_pid) if Path(f"/proc/{p}").exists()]
    rss = sum(_kb(f"/proc/{p}/status", "VmRSS") for p in pids)
    pss = sum(_kb(f"/proc/{p}/smaps_rollup", "Pss") for p in pids)
    return Mem(rss, pss, len(pids))


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(root_pid: int) -> float:
    """User+system CPU of a process tree: every live process (all threads), plus
    the reaped children of the root (Dovecot's finished login processes)."""
    total = 0
    for p in descendants(root_pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if p == root_pid:
            total += int(fields[13]) + int(fields[14])  # cutime, cstime
    return total / CLK_TCK


def du_kb(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total // 1024


# --------------------------------------------------------------------------
# Servers under test
# --------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    host: str
    port: int
    tls: bool
    pid: int  # the root of the server's process tree
    mail_dir: Path  # what to measure for disk usage
    log_path: Path
    stop: object = None  # callable
    single_process: bool = False
    disk_exclude: tuple[str, ...] = ()  # subdirectories of mail_dir that hold no mail
    notes: list[str] = field(default_factory=list)

    def connect(self) -> Imap:
        return Imap(self.host, self.port, self.tls)

    def session(self, user: str) -> Imap:
        c = self.connect()
        c.login(user, PASSWORD)
        return c


def accounts(args) -> dict[str, list[str]]:
    return {
        "bench": [BENCH_USER],
        "append": [f"app{i}@{DOMAIN}" for i in range(1, args.connections + 1)],
        "idle": [f"idle{i:02d}@{DOMAIN}" for i in range(1, args.idle_accounts + 1)],
    }


def all_accounts(args) -> list[str]:
    return [a for group in accounts(args).values() for a in group]


def start_mailroom(args, workdir: Path) -> tuple[Target, MailServer]:
    binary = require_binary()
    data = workdir / "mailroom-data"
    data.mkdir()
    srv = MailServer(data_dir=data, log_path=workdir / "mailroomd.log", binary=binary)
    srv.cli("domain", "add", DOMAIN)
    for user in all_accounts(args):
        srv.cli("account", "add", user, "--password", PASSWORD)
    # Room for the idle connections plus the benchmark's own sessions.
    room = str(args.idle + args.connections + 100)
    for key, value in (("max_connections", room), ("max_connections_per_ip", room),
                       ("imap_sessions_per_account", room),
                       ("plaintext_auth_on_trusted", "true" if args.transport == "plain" else "false")):
        srv.cli("settings", "set", key, value)
    saved = dict(os.environ)
    os.environ.update(args.mailroom_env)  # MailServer.start passes os.environ on
    try:
        srv.start()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout.strip()
    host, port = srv.addr("imap" if args.transport == "plain" else "imaps")
    t = Target(name=version or "mailroomd", host=host, port=port, tls=args.transport == "tls", pid=srv.pid,
               mail_dir=data, log_path=srv.log_path, stop=srv.stop, single_process=True,
               disk_exclude=("logs", "tls"))
    t.notes.append("disk: the data directory less logs/ and tls/ (database, WAL, message files)")
    if args.mailroom_env:
        t.notes.append("environment: " + " ".join(f"{k}={v}" for k, v in args.mailroom_env.items()))
    t.notes.append(f"settings: max_connections, max_connections_per_ip, imap_sessions_per_account = {room}; "
                   f"plaintext_auth_on_trusted = {str(args.transport == 'plain').lower()}")
    return t, srv


def mailroom_hash(data_dir: Path, user: str) -> str | None:
    """mailroomd's Argon2id PHC string for `user` (read-only), to give Dovecot the same."""
    local, _, _domain = user.partition("@")
    try:
        db = sqlite3.connect(f"file:{data_dir / 'mailroom.db'}?mode=ro", uri=True, timeout=10)
        try:
            row = db.execute("SELECT password_hash FROM accounts WHERE local_part = ?", (local,)).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return row[0] if row and row[0] and row[0].startswith("$argon2id$") else None


def free_port() -> int:
    for _ in range(200):
        p = random.randint(20000, 60000)
        if tcp_port_free("127.0.0.1", p):
            return p
    raise RuntimeError("no free port")


def dovecot_version() -> str:
    res = subprocess.run(["dovecot", "--version"], capture_output=True, text=True)
    return "dovecot " + (res.stdout.split()[0] if res.stdout.strip() else "?")


def start_dovecot(args, workdir: Path, phc: str | None) -> Target:
    if not shutil.which("dovecot"):
        raise SystemExit("--compare-dovecot: dovecot is not installed "
                         "(apt-get update && apt-get install -y dovecot-imapd)")
    if os.geteuid() != 0:
        raise SystemExit("--compare-dovecot: the private Dovecot instance needs root")
    for user in ("dovecot", "dovenull"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            raise SystemExit(f"--compare-dovecot: system user {user!r} missing (install dovecot-core)") from None
    d = workdir / "dovecot"
    run, state, mail = d / "run", d / "state", d / "mail"
    for p in (d, run, state, mail):
        p.mkdir(parents=True, exist_ok=True)
    # Mail is owned by an unprivileged uid (Dovecot refuses root); its
    # processes must be able to reach the directories.
    os.chmod(workdir, 0o755)
    os.chmod(d, 0o755)
    nobody = pwd.getpwnam("nobody")
    gid = grp.getgrnam("nogroup").gr_gid if _has_group("nogroup") else nobody.pw_gid
    os.chown(mail, nobody.pw_uid, gid)

    if phc:
        scheme_hash, hash_note = "{ARGON2ID}" + phc, "mailroomd's own Argon2id hash (m=19 MiB, t=2)"
    else:
        res = subprocess.run(["doveadm", "pw", "-s", "ARGON2ID", "-p", PASSWORD], capture_output=True, text=True)
        scheme_hash, hash_note = res.stdout.strip(), "doveadm pw -s ARGON2ID (Dovecot's own parameters)"
    (d / "users").write_text("".join(f"{u}:{scheme_hash}\n" for u in all_accounts(args)))

    port = free_port()
    tls = args.transport == "tls"
    ssl_conf = "ssl = no\n"
    if tls:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                       check=True, capture_output=True)
        ssl_conf = f"ssl = required\nssl_cert = <{d}/cert.pem\nssl_key = <{d}/key.pem\n"
    room = args.idle + args.connections + 100
    location = {"maildir": "maildir:~/Maildir", "sdbox": "sdbox:~/sdbox", "mdbox": "mdbox:~/mdbox"}[args.dovecot_format]
    conf = d / "dovecot.conf"
    conf.write_text(f"""\
# Private benchmark instance (bench/imap_bench.py)
base_dir = {run}
state_dir = {state}
instance_name = mailroom-bench-{os.getpid()}
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl_conf}disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid={nobody.pw_uid} gid={gid} home={mail}/%d/%n
}}
first_valid_uid = 1
first_valid_gid = 1
mail_location = {location}
default_process_limit = {room}
default_client_limit = {room * 4}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {0 if tls else port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {port if tls else 0}
    ssl = yes
  }}
  process_limit = {room}
}}
service imap {{
  process_limit = {room}
}}
protocol imap {{
  mail_max_userip_connections = {room}
}}
""")
    # The daemon keeps the descriptors it was started with: give it a file, not a pipe.
    with open(d / "dovecot.out", "wb") as out:
        res = subprocess.run(["dovecot", "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        raise RuntimeError(f"dovecot did not start: {_tail(d / 'dovecot.out')}")
    deadline = time.monotonic() + 30
    pid = None
    while time.monotonic() < deadline:
        try:
            pid = int((run / "master.pid").read_text().split()[0])
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except (OSError, ValueError, IndexError):
            time.sleep(0.1)
    else:
        raise RuntimeError(f"dovecot did not start listening on {port}; log: {_tail(d / 'dovecot.log')}")

    def stop() -> None:
        subprocess.run(["dovecot", "-c", str(conf), "stop"], capture_output=True, timeout=60)
        end = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < end:
            time.sleep(0.1)

    t = Target(name=dovecot_version(), host="127.0.0.1", port=port, tls=tls, pid=pid, mail_dir=mail,
               log_path=d / "dovecot.log", stop=stop)
    t.notes.append(f"mail_location = {location}; mail_fsync = default (optimized); no FTS plugin; "
                   f"passwords: {hash_note}; one imap process per session; disk: the mail directory")
    return t


def _has_group(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def _tail(path: Path, n: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------
# Phases
# --------------------------------------------------------------------------


def check_capabilities(t: Target) -> None:
    c = t.session(BENCH_USER)
    try:
        caps = c.capabilities()
    finally:
        c.logout()
    missing = {"LITERAL+", "MULTIAPPEND", "IDLE"} - caps
    if missing:
        raise SystemExit(f"{t.name} lacks {', '.join(sorted(missing))}; the benchmark needs them")


def multiappend(c: Imap, folder: str, count: int, batch: int, make, label: str, t: Target) -> float:
    """Appends `count` messages built by make(i) in MULTIAPPEND batches; returns seconds."""
    step = max(batch, count // 10)
    next_report = step
    t0 = time.perf_counter()
    i = last_i = 0
    last_t = t0
    while i < count:
        n = min(batch, count - i)
        c.append(folder, [make(k) for k in range(i, i + n)])
        i += n
        if i >= next_report or i == count:
            now = time.perf_counter()
            log(f"  [{t.name}] {label}: {i:,}/{count:,}, {i / (now - t0):,.0f} msgs/s so far, "
                f"{(i - last_i) / (now - last_t):,.0f} msgs/s lately")
            last_i, last_t = i, now
            next_report += step
    return time.perf_counter() - t0


def exists_of(body: bytes) -> int:
    for line in body.split(b"\r\n"):
        parts = line.split()
        if len(parts) >= 3 and parts[0] == b"*" and parts[2].upper() == b"EXISTS":
            return int(parts[1])
    return -1


def phase_fill(args, t: Target, res: dict) -> None:
    c = t.session(BENCH_USER)
    try:
        res["fill_s"] = multiappend(c, "INBOX", args.messages, args.batch, fill_message, "fill INBOX", t)
    finally:
        c.logout()
    res["fill_bytes"] = sum(len(fill_message(i)[1]) for i in range(min(args.messages, 1000))) / min(args.messages, 1000)
    selects, fetches, lines, exists = [], [], [], []
    for _ in range(args.repeat):
        c = t.session(BENCH_USER)
        try:
            t0 = time.perf_counter()
            body, _ = c.run(b"SELECT INBOX")
            selects.append(time.perf_counter() - t0)
            exists.append(exists_of(body))
            t0 = time.perf_counter()
            body, _ = c.run(b"UID FETCH 1:* (FLAGS)")
            fetches.append(time.perf_counter() - t0)
            lines.append(body.count(b" FETCH ("))
        finally:
            c.logout()
    res.update(select_s=selects, fetch_s=fetches, fetch_lines=lines, exists=exists)
    log(f"  [{t.name}] SELECT {', '.join(f'{s * 1000:.1f}' for s in selects)} ms; "
        f"UID FETCH 1:* (FLAGS) {', '.join(f'{s * 1000:.1f}' for s in fetches)} ms ({lines[-1]:,} lines)")


def phase_search(args, t: Target, res: dict) -> None:
    c = t.session(BENCH_USER)
    try:
        c.run(b"CREATE " + quote(SEARCH_FOLDER))
        expected = sum(1 for i in range(args.search_messages) if i % args.search_every == args.search_every // 2)

        def make(i):
            flags, data, _hit = search_message(i, args.search_size, args.word, args.search_every)
            return flags, data

        res["search_fill_s"] = multiappend(c, SEARCH_FOLDER, args.search_messages, args.batch, make,
                                           "fill Search", t)
        c.run(b"SELECT " + quote(SEARCH_FOLDER))
        times, hits = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            body, _ = c.run(b"SEARCH TEXT " + quote(args.word))
            times.append(time.perf_counter() - t0)
            n = 0
            for line in body.split(b"\r\n"):
                if line.upper().startswith(b"* SEARCH"):
                    n += len(line.split()) - 2
            hits.append(n)
    finally:
        c.logout()
    res.update(search_s=times, search_hits=hits, search_expected=expected)
    log(f"  [{t.name}] SEARCH TEXT {args.word}: {', '.join(f'{s * 1000:.1f}' for s in times)} ms, "
        f"{hits[-1]} hits (expected {expected})")


def phase_append(args, t: Target, res: dict) -> None:
    users = accounts(args)["append"]
    share = [args.append_messages // len(users) + (1 if i < args.append_messages % len(users) else 0)
             for i in range(len(users))]
    barrier = threading.Barrier(len(users) + 1)
    done = [0] * len(users)
    errors: list[str] = []

    def worker(w: int) -> None:
        c = None
        try:
            c = t.session(users[w])
            c.run(b"CREATE " + quote(APPEND_FOLDER))
            msgs = [append_message(w, i, args.append_size) for i in range(min(share[w], 64))]
            barrier.wait(60)
            for i in range(share[w]):
                c.append(APPEND_FOLDER, [(b"", msgs[i % len(msgs)])])
                done[w] += 1
        except Exception as e:  # noqa: BLE001 - reported
            errors.append(f"worker {w}: {type(e).__name__}: {e}")
            try:
                barrier.abort()
            except threading.BrokenBarrierError:
                pass
        finally:
            if c is not None:
                c.logout()

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(len(users))]
    for th in threads:
        th.start()
    try:
        barrier.wait(120)
    except threading.BrokenBarrierError:
        pass
    t0 = time.perf_counter()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t0
    res.update(append_s=elapsed, append_done=sum(done), append_errors=errors,
               append_bytes=len(append_message(0, 0, args.append_size)))
    log(f"  [{t.name}] APPEND: {sum(done):,} in {elapsed:.2f} s ({sum(done) / elapsed:,.0f} msgs/s)"
        + (f"; {len(errors)} errors" if errors else ""))


def phase_idle(args, t: Target, res: dict) -> None:
    users = accounts(args)["idle"]
    if args.idle_inbox:
        for u in users:
            c = t.session(u)
            try:
                for i in range(0, args.idle_inbox, args.batch):
                    c.append("INBOX", [fill_message(k) for k in range(i, min(args.idle_inbox, i + args.batch))])
            finally:
                c.logout()
    time.sleep(args.settle)
    before = memory(t.pid)
    conns: list[Imap] = []
    errors: list[str] = []
    lock = threading.Lock()

    def open_one(k: int) -> None:
        try:
            c = t.session(users[k % len(users)])
            c.run(b"SELECT INBOX")
            c.idle()
            with lock:
                conns.append(c)
        except Exception as e:  # noqa: BLE001 - reported
            with lock:
                errors.append(f"connection {k}: {type(e).__name__}: {e}")

    log(f"  [{t.name}] opening {args.idle:,} idle connections over {len(users)} accounts ...")
    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(args.idle_threads) as pool:
        list(pool.map(open_one, range(args.idle)))
    open_s = time.perf_counter() - t0
    time.sleep(args.settle)
    after = memory(t.pid)
    # Are they still alive? A server that dropped idle sessions would look cheap.
    alive = 0
    for c in conns:
        try:
            c.sock.setblocking(False)
            try:
                data = c.sock.recv(4096)
                alive += 1 if data else 0
            except (BlockingIOError, ssl.SSLWantReadError):
                alive += 1
            finally:
                c.sock.setblocking(True)
        except OSError:
            pass
    for c in conns:
        try:
            c.send(b"DONE\r\nZ LOGOUT\r\n")
        except OSError:
            pass
        c.close()
    time.sleep(args.settle)
    closed = memory(t.pid)  # what stays resident once the sessions are gone
    n = len(conns)
    res.update(idle_open=n, idle_alive=alive, idle_open_s=open_s, idle_errors=errors,
               mem_before=before, mem_after=after, mem_closed=closed)
    per = (after.pss_kb - before.pss_kb) / n if n else 0.0
    log(f"  [{t.name}] {n:,} idle ({alive:,} alive after {args.settle:g} s) opened in {open_s:.1f} s; "
        f"PSS {before.pss_kb / 1024:.1f} -> {after.pss_kb / 1024:.1f} MiB ({per:.1f} KiB/conn), "
        f"RSS {before.rss_kb / 1024:.1f} -> {after.rss_kb / 1024:.1f} MiB, {after.procs} processes"
        + (f"; {len(errors)} errors, first: {errors[0]}" if errors else ""))


PHASE_FUNCS = {"idle": phase_idle, "fill": phase_fill, "search": phase_search, "append": phase_append}


def run_target(args, t: Target) -> dict:
    res: dict = {"name": t.name, "errors": []}
    check_capabilities(t)
    res["mem_start"] = memory(t.pid)
    for phase in PHASES:
        if phase in args.skip:
            continue
        log(f"[{t.name}] phase {phase}")
        cpu0, wall0 = cpu_seconds(t.pid), time.perf_counter()
        try:
            PHASE_FUNCS[phase](args, t, res)
        except Exception as e:  # noqa: BLE001 - reported in the output
            res["errors"].append(f"phase {phase}: {type(e).__name__}: {e}")
            log(f"  [{t.name}] phase {phase} FAILED: {type(e).__name__}: {e}")
        res.setdefault("cpu", {})[phase] = (cpu_seconds(t.pid) - cpu0, time.perf_counter() - wall0)
    res["mem_end"] = memory(t.pid)
    res["hwm_kb"] = _kb(f"/proc/{t.pid}/status", "VmHWM") if t.single_process else None
    res["disk_kb"] = du_kb(t.mail_dir) - sum(du_kb(t.mail_dir / x) for x in t.disk_exclude)
    res["notes"] = t.notes
    res["log_problems"] = log_problems(t.log_path)
    return res


# mailroomd logs "<time>  WARN ..." / "ERROR"; Dovecot "<time> imap(user): Error: ...".
LOG_PROBLEM = re.compile(r"^\S+\s+(WARN|ERROR)\s|: (Warning|Error|Fatal|Panic): ")


def log_problems(path: Path) -> list[tuple[int, str]]:
    """Warning and error lines of a server log, grouped: (count, first line) per kind."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    groups: dict[str, list] = {}
    for line in text.splitlines():
        m = LOG_PROBLEM.search(line)
        if not m:
            continue
        key = re.sub(r"\d+|<[^>]*>|\([^)]*\)", "#", line[m.start(1):])[:120]
        groups.setdefault(key, [0, line.strip()[:300]])[0] += 1
    return [(n, first) for n, first in groups.values()]


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def med(xs) -> float | None:
    return statistics.median(xs) if xs else None


def metrics(args, r: dict) -> list[tuple[str, float | None, str, str]]:
    """(label, value, format, better) for the table; better is 'higher' or 'lower'."""
    out = []
    if "fill_s" in r:
        out.append((f"fill INBOX: MULTIAPPEND x{args.batch}, {args.messages:,} msgs of "
                    f"~{r['fill_bytes']:.0f} B (msgs/s)",
                    args.messages / r["fill_s"], "{:,.0f}", "higher"))
    if "select_s" in r:
        out.append((f"SELECT INBOX, {args.messages:,} msgs (ms, median of {args.repeat})",
                    med(r["select_s"]) * 1000, "{:,.1f}", "lower"))
        out.append((f"UID FETCH 1:* (FLAGS), {args.messages:,} msgs (ms, median of {args.repeat})",
                    med(r["fetch_s"]) * 1000, "{:,.1f}", "lower"))
    if "search_fill_s" in r:
        out.append((f"fill Search: {args.search_messages:,} msgs of ~{args.search_size} B (msgs/s)",
                    args.search_messages / r["search_fill_s"], "{:,.0f}", "higher"))
    if "search_s" in r:
        out.append((f"SEARCH TEXT over {args.search_messages:,} msgs: first (ms)", r["search_s"][0] * 1000,
                    "{:,.1f}", "lower"))
        out.append((f"SEARCH TEXT over {args.search_messages:,} msgs: median of {args.repeat} (ms)",
                    med(r["search_s"]) * 1000, "{:,.1f}", "lower"))
        out.append(("SEARCH TEXT hits", r["search_hits"][-1], "{:,.0f}", ""))
    if "append_s" in r:
        out.append((f"APPEND ~{r['append_bytes']} B, {args.connections} conns, 1 msg/command (msgs/s)",
                    r["append_done"] / r["append_s"] if r["append_s"] else None, "{:,.0f}", "higher"))
    if "mem_after" in r and r["idle_open"]:
        b, a, n = r["mem_before"], r["mem_after"], r["idle_open"]
        out.append((f"idle: {n:,} conns, KiB per connection (PSS)", (a.pss_kb - b.pss_kb) / n, "{:,.1f}", "lower"))
        out.append((f"idle: {n:,} conns, KiB per connection (summed RSS)", (a.rss_kb - b.rss_kb) / n, "{:,.1f}", ""))
        c = r["mem_closed"]
        out.append(("idle: server PSS before -> with conns -> closed (MiB)", None,
                    f"{b.pss_kb / 1024:.1f} -> {a.pss_kb / 1024:.1f} -> {c.pss_kb / 1024:.1f}", ""))
        out.append((f"idle: PSS still held {args.settle:g} s after closing, KiB per conn",
                    (c.pss_kb - b.pss_kb) / n, "{:,.1f}", "lower"))
        out.append(("idle: processes after", a.procs, "{:,.0f}", ""))
        out.append((f"idle: time to open {n:,} (LOGIN+SELECT+IDLE, {args.idle_threads} threads) (s)",
                    r["idle_open_s"], "{:,.1f}", "lower"))
    for phase in ("fill", "search", "append"):
        if phase in r.get("cpu", {}):
            out.append((f"server CPU seconds in phase {phase}", r["cpu"][phase][0], "{:,.1f}", "lower"))
    out.append(("disk used by the mail store at the end (MiB)", r["disk_kb"] / 1024, "{:,.1f}", "lower"))
    return out


def print_report(args, rows: list[dict], transport_note: str) -> None:
    print()
    print(f"IMAP benchmark on 127.0.0.1, {os.cpu_count()} CPUs; transport: {transport_note}")
    print(f"client: bench/imap_bench.py raw sockets, LITERAL+; phases in order: "
          f"{', '.join(p for p in PHASES if p not in args.skip)}")
    print()
    table = [metrics(args, r) for r in rows]
    labels = [m[0] for m in table[0]]
    headers = ["metric"] + [r["name"] for r in rows]
    if len(rows) == 2:
        headers += ["ratio m/d", "better"]
    body = []
    for i, label in enumerate(labels):
        row = [label]
        vals = []
        for t in table:
            m = next((x for x in t if x[0] == label), None)
            if m is None:
                row.append("-")
                vals.append(None)
            elif m[1] is None:
                row.append(m[2])
                vals.append(None)
            else:
                row.append(m[2].format(m[1]))
                vals.append(m[1])
        if len(rows) == 2:
            better = table[0][i][3]
            if better and vals[0] is not None and vals[1]:
                row.append(f"{vals[0] / vals[1]:.2f}x")
                row.append(f"{better} is better")
            else:
                row += ["", ""]
        body.append(row)
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in body:
        print("  ".join(c.ljust(w) if i in (0, len(r) - 1) and (i == 0 or len(rows) == 2) else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    print()
    for r in rows:
        print(f"{r['name']}:")
        for note in r["notes"]:
            print(f"  {note}")
        if "select_s" in r:
            print(f"  SELECT ms: {', '.join(f'{s * 1000:.1f}' for s in r['select_s'])}; EXISTS {r['exists']}; "
                  f"UID FETCH ms: {', '.join(f'{s * 1000:.1f}' for s in r['fetch_s'])}; "
                  f"FETCH responses {r['fetch_lines']}")
        if "search_s" in r:
            print(f"  SEARCH TEXT {args.word} ms: {', '.join(f'{s * 1000:.1f}' for s in r['search_s'])}; "
                  f"hits {r['search_hits']} (expected {r['search_expected']})")
        if "append_s" in r:
            print(f"  APPEND: {r['append_done']:,} of {args.append_messages:,} in {r['append_s']:.2f} s")
        if "mem_after" in r:
            b, a = r["mem_before"], r["mem_after"]
            c = r["mem_closed"]
            print(f"  idle: {r['idle_open']:,} of {args.idle:,} opened, {r['idle_alive']:,} still open after "
                  f"{args.settle:g} s; RSS {b.rss_kb / 1024:.1f} -> {a.rss_kb / 1024:.1f} MiB "
                  f"(-> {c.rss_kb / 1024:.1f} MiB {args.settle:g} s after closing them all), "
                  f"PSS {b.pss_kb / 1024:.1f} -> {a.pss_kb / 1024:.1f} (-> {c.pss_kb / 1024:.1f}) MiB, "
                  f"processes {b.procs} -> {a.procs} (-> {c.procs})")
        ms, me = r["mem_start"], r["mem_end"]
        print(f"  server memory: start RSS {ms.rss_kb / 1024:.1f} MiB, end RSS {me.rss_kb / 1024:.1f} MiB "
              f"(PSS {me.pss_kb / 1024:.1f} MiB, {me.procs} processes)"
              + (f"; peak RSS (VmHWM) {r['hwm_kb'] / 1024:.1f} MiB" if r["hwm_kb"] is not None else ""))
        problems = [*r["errors"], *r.get("append_errors", [])[:5], *r.get("idle_errors", [])[:5]]
        if "search_hits" in r and r["search_hits"] and r["search_hits"][-1] != r["search_expected"]:
            problems.append(f"SEARCH found {r['search_hits'][-1]} hits, expected {r['search_expected']}")
        if "exists" in r and any(e != args.messages for e in r["exists"]):
            problems.append(f"SELECT reported EXISTS {r['exists']}, expected {args.messages}")
        if "fetch_lines" in r and any(n != args.messages for n in r["fetch_lines"]):
            problems.append(f"UID FETCH returned {r['fetch_lines']} responses, expected {args.messages}")
        if "idle_open" in r and (r["idle_open"] != args.idle or r["idle_alive"] != r["idle_open"]):
            problems.append(f"idle: {r['idle_open']} opened, {r['idle_alive']} alive, of {args.idle}")
        for p in problems:
            print(f"  PROBLEM: {p}")
        if r.get("cpu"):
            print("  server CPU / wall seconds per phase: " + ", ".join(
                f"{p} {c:.1f}/{w:.1f}" for p, (c, w) in r["cpu"].items()))
        if r["log_problems"]:
            print(f"  server log: {sum(n for n, _ in r['log_problems'])} warning/error lines, by kind:")
            for n, line in r["log_problems"][:8]:
                print(f"    {n} x {line}")
    if len(rows) == 2:
        print("\nratio m/d = mailroomd / dovecot; whether higher or lower is better is given per line.")


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, need) if hard == resource.RLIM_INFINITY else min(max(soft, need), hard)
    if want > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        raise SystemExit(f"open-file limit {soft} is below the {need} this run needs (ulimit -n)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--messages", type=int, default=100_000, help="messages in the big INBOX")
    ap.add_argument("--batch", type=int, default=500, help="messages per MULTIAPPEND command when filling")
    ap.add_argument("--repeat", type=int, default=3, help="runs of SELECT/FETCH and SEARCH")
    ap.add_argument("--search-messages", type=int, default=10_000)
    ap.add_argument("--search-size", type=int, default=2048, help="approximate size of the SEARCH messages")
    ap.add_argument("--search-every", type=int, default=100, help="one message in this many has the word")
    ap.add_argument("--word", default="zebrafinch", help="the rare word SEARCH TEXT looks for")
    ap.add_argument("--append-messages", type=int, default=10_000)
    ap.add_argument("-c", "--connections", type=int, default=4, help="APPEND connections (one account each)")
    ap.add_argument("--append-size", type=int, default=4096)
    ap.add_argument("--idle", type=int, default=1000, help="idle connections")
    ap.add_argument("--idle-accounts", type=int, default=20)
    ap.add_argument("--idle-inbox", type=int, default=100, help="messages in each idle account's INBOX")
    ap.add_argument("--idle-threads", type=int, default=8, help="client threads opening idle connections")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds to wait before a memory reading")
    ap.add_argument("--transport", choices=["plain", "tls"], default="plain")
    ap.add_argument("--skip", action="append", default=[], choices=PHASES, help="skip a phase (repeatable)")
    ap.add_argument("--compare-dovecot", action="store_true",
                    help="also run the same workload against a private Dovecot instance (root)")
    ap.add_argument("--dovecot-format", choices=["maildir", "sdbox", "mdbox"], default="maildir")
    ap.add_argument("--mailroom-env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment for mailroomd, e.g. MALLOC_MMAP_THRESHOLD_=131072 (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    try:
        args.mailroom_env = dict(kv.split("=", 1) for kv in args.mailroom_env)
    except ValueError:
        ap.error("--mailroom-env takes KEY=VALUE")
    if min(args.messages, args.batch, args.repeat, args.search_messages, args.search_every,
           args.append_messages, args.connections, args.idle, args.idle_accounts, args.idle_threads) < 1:
        ap.error("sizes and counts must be at least 1")
    if args.append_messages < args.connections:
        ap.error("need connections <= append-messages")
    if args.compare_dovecot and not shutil.which("dovecot"):
        print("--compare-dovecot: dovecot is not installed; install it with\n"
              "    apt-get update && apt-get install -y dovecot-imapd", file=sys.stderr)
        return 2
    raise_fd_limit(args.idle + 256)

    if args.transport == "plain":
        note = ("plain IMAP, no TLS (mailroomd port offset+143 with plaintext_auth_on_trusted = true; "
                "Dovecot ssl = no)")
    else:
        note = "implicit TLS, certificate not verified (mailroomd offset+993; Dovecot imaps, self-signed)"

    workdir = Path(tempfile.mkdtemp(prefix="mailroom-imap-bench-"))
    rows = []
    try:
        try:
            target, srv = start_mailroom(args, workdir)
        except BinaryMissing as e:
            print(e, file=sys.stderr)
            return 2
        try:
            rows.append(run_target(args, target))
        finally:
            srv.stop(timeout=60)
        if args.compare_dovecot:
            phc = mailroom_hash(workdir / "mailroom-data", BENCH_USER)
            dv = start_dovecot(args, workdir, phc)
            try:
                rows.append(run_target(args, dv))
            finally:
                dv.stop()
        print_report(args, rows, note)
    finally:
        if args.keep:
            print(f"\nkept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(not r["errors"] for r in rows) else 1


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
