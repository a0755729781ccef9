"""Helpers shared by the end-to-end tests and the benchmark.

Everything here talks to a real `mailroomd` binary over real sockets:
process management (start/stop/kill, admin CLI), a small raw SMTP client
that lets tests send exact bytes, and POP3 helpers built on poplib.
"""

from __future__ import annotations

import contextlib
import imaplib
import json
import os
import poplib
import random
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Messages in these tests can carry long lines (the bad-input tests send
# megabyte lines); poplib's default 2048-byte line limit would get in the way.
poplib._MAXLINE = 64 * 1024 * 1024

PASSWORDS = {
    "alice@example.test": "alice-pw-1",
    "bob@example.test": "bob-pw-2",
    "carol@example.test": "carol-pw-3",
}

PORT_BASES = {"smtp": 25, "submission": 587, "submissions": 465, "pop3": 110, "pop3s": 995, "imap": 143,
              "imaps": 993, "admin": 8080}


class BinaryMissing(RuntimeError):
    pass


def mailroomd_path() -> Path:
    """Where the server binary is expected. The tests never build it."""
    explicit = os.environ.get("MAILROOMD")
    if explicit:
        return Path(explicit)
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        return Path(target) / "release" / "mailroomd"
    return REPO / "target" / "release" / "mailroomd"


def require_binary() -> Path:
    path = mailroomd_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise BinaryMissing(
            f"mailroomd binary not found at {path}. Build it first "
            f"(cargo build --release), or point MAILROOMD at it "
            f"(or set CARGO_TARGET_DIR to the cargo target directory)."
        )
    return path


def client_tls_context() -> ssl.SSLContext:
    """The server uses a self-signed certificate: do not verify it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# --------------------------------------------------------------------------
# Server process
# --------------------------------------------------------------------------


def ports_free(host: str, offset: int) -> bool:
    for base in [*PORT_BASES.values(), 8443]:  # 8443: remote administration, when switched on
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((host, offset + base))
        except OSError:
            return False
        finally:
            s.close()
    return True


def pick_offset(host: str = "127.0.0.1") -> int:
    for _ in range(200):
        n = random.randint(20000, 40000)
        if ports_free(host, n):
            return n
    raise RuntimeError("could not find a free port offset in 20000..40000")


@dataclass
class MailServer:
    """One mailroomd data directory, and at most one running server on it."""

    data_dir: Path
    log_path: Path
    bind: str = "127.0.0.1"
    netns: str | None = None  # run `serve` inside this network namespace
    proc: subprocess.Popen | None = None
    offset: int | None = None
    listeners: dict = field(default_factory=dict)
    binary: Path = field(default_factory=require_binary)

    # ---- admin CLI -------------------------------------------------------

    def cli(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(self.binary), "--data-dir", str(self.data_dir), *args]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(
                f"admin command failed ({res.returncode}): {' '.join(cmd)}\n"
                f"stdout: {res.stdout}\nstderr: {res.stderr}"
            )
        return res

    def provision(self) -> None:
        """example.test with alice, bob and carol."""
        self.cli("domain", "add", "example.test")
        for user, pw in PASSWORDS.items():
            self.cli("account", "add", user, "--password", pw)

    def new_account(self, quota: str | None = None, domain: str = "example.test") -> tuple[str, str]:
        """A fresh account with a random name (and quota, e.g. "100K"); returns (address, password)."""
        token = f"{random.getrandbits(48):012x}"
        address, password = f"u{token}@{domain}", f"pw-{token}"
        args = ["account", "add", address, "--password", password]
        if quota is not None:
            args += ["--quota", quota]
        self.cli(*args)
        return address, password

    # ---- lifecycle -------------------------------------------------------

    @property
    def runtime_json(self) -> Path:
        return self.data_dir / "runtime.json"

    def start(self, timeout: float = 30) -> "MailServer":
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        last_error = ""
        for _attempt in range(5):
            offset = pick_offset(self.bind) if self.netns is None else random.randint(20000, 40000)
            cmd = [
                str(self.binary), "--data-dir", str(self.data_dir),
                "serve", "--bind", self.bind, "--port-offset", str(offset),
            ]
            if self.netns:
                cmd = ["ip", "netns", "exec", self.netns, *cmd]
            log = open(self.log_path, "ab")
            log.write(f"\n===== {time.strftime('%H:%M:%S')} {' '.join(cmd)}\n".encode())
            log.flush()
            # The outbound client logs every DNS answer and SMTP step at debug
            # level: a delivery that stalls then shows where in the failure report.
            env = dict(os.environ)
            env.setdefault("RUST_LOG", "info,mailroom_outbound=debug")
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
            log.close()
            self.proc, self.offset = proc, offset
            try:
                self._wait_ready(timeout)
                return self
            except _StartFailed as e:
                last_error = str(e)
                self._terminate()
                continue  # most likely lost a race for a port: new offset
        raise AssertionError(f"mailroomd did not start: {last_error}\n--- server log ---\n{self.log_text()}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise _StartFailed(f"server exited with {self.proc.returncode}")
            info = self._read_runtime()
            if info is not None:
                self.listeners = info["listeners"]
                if self._all_connectable():
                    return
            time.sleep(0.05)
        raise _StartFailed(f"runtime.json/listeners not ready within {timeout}s")

    def _read_runtime(self) -> dict | None:
        try:
            info = json.loads(self.runtime_json.read_text())
        except (OSError, ValueError):
            return None
        # After a kill -9 a stale file from the previous process may remain;
        # only trust the one written by the process we started.
        if info.get("pid") != self.proc.pid:
            return None
        if not isinstance(info.get("listeners"), dict):
            return None
        return info

    def _all_connectable(self) -> bool:
        for name in PORT_BASES:
            if name not in self.listeners:
                return False
            if name == "admin" and self.netns:
                continue  # on the namespace's own loopback, out of the tests' reach
            host, port = self.addr(name)
            try:
                socket.create_connection((host, port), timeout=1).close()
            except OSError:
                return False
        return True

    @property
    def pid(self) -> int:
        """The mailroomd pid (also under `ip netns exec`, which execs in place)."""
        assert self.proc is not None
        return self.proc.pid

    def addr(self, name: str) -> tuple[str, int]:
        value = self.listeners[name]
        host, _, port = value.rpartition(":")
        return host.strip("[]"), int(port)

    def port(self, name: str) -> int:
        return self.addr(name)[1]

    @property
    def host(self) -> str:
        return self.addr("smtp")[0]

    def stop(self, timeout: float = 10) -> int | None:
        """SIGTERM, then SIGKILL if it does not stop within `timeout`."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"mailroomd did not stop within {timeout}s of SIGTERM")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def restart(self) -> "MailServer":
        self.stop()
        return self.start()

    def _terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"

    def status_field(self, name: str) -> int:
        """A kB field of /proc/PID/status, e.g. VmRSS or VmHWM, in bytes."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024
        raise KeyError(name)

    # ---- convenience clients --------------------------------------------

    def smtp(self, name: str = "smtp", **kw) -> "RawSMTP":
        host, port = self.addr(name)
        return RawSMTP(host, port, implicit_tls=(name == "submissions"), **kw)

    def smtplib(self, name: str = "smtp") -> smtplib.SMTP:
        host, port = self.addr(name)
        if name == "submissions":
            return smtplib.SMTP_SSL(host, port, context=client_tls_context(), timeout=30)
        return smtplib.SMTP(host, port, timeout=30)

    def imap(self, user: str | None = None, implicit: bool = True, password: str | None = None) -> "imaplib.IMAP4":
        """imaplib client over implicit TLS (port N+993) or STARTTLS (N+143),
        logged in when `user` is given (with `password`, else PASSWORDS[user])."""
        if implicit:
            host, port = self.addr("imaps")
            c = imaplib.IMAP4_SSL(host, port, ssl_context=client_tls_context(), timeout=30)
        else:
            host, port = self.addr("imap")
            c = imaplib.IMAP4(host, port, timeout=30)
            c.starttls(ssl_context=client_tls_context())
        if user is not None:
            c.login(user, password if password is not None else PASSWORDS[user])
        return c

    def raw_imap(self, user: str | None = None, password: str | None = None, implicit: bool = True) -> "RawIMAP":
        """RawIMAP over implicit TLS (N+993) or STARTTLS (N+143), logged in when `user` is given."""
        if implicit:
            c = RawIMAP(*self.addr("imaps"), implicit_tls=True)
        else:
            c = RawIMAP(*self.addr("imap"), implicit_tls=False)
            c.starttls()
        if user is not None:
            c.login(user, password if password is not None else PASSWORDS[user])
        return c

    def pop3(self, user: str | None = None, password: str | None = None, implicit: bool = False,
             source: str | None = None) -> poplib.POP3:
        """A POP3 session, secured (STLS on pop3, or pop3s), logged in if a user is given."""
        if implicit:
            host, port = self.addr("pop3s")
            p = _SourcePOP3SSL(host, port, source, timeout=30)
        else:
            host, port = self.addr("pop3")
            p = _SourcePOP3(host, port, source, timeout=30)
            p.stls(client_tls_context())
        if user is not None:
            p.user(user)
            p.pass_(password if password is not None else PASSWORDS[user])
        return p

    def deliver(self, rcpts: str | list[str], message: bytes, sender: str = "sender@remote.test") -> str:
        """Unauthenticated delivery on the MX port; returns the queue id."""
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        with self.smtp("smtp") as c:
            c.ehlo()
            r = c.sendmail(sender, rcpts, message)
            m = QUEUED_RE.match(r.lines[0])
            assert m, f"delivery not accepted: {r}"
            c.quit()
            return m.group(1)

    def mailbox(self, user: str, source: str | None = None) -> list[bytes]:
        """Every message in the user's maildrop, as exact bytes, without deleting."""
        p = self.pop3(user, source=source)
        try:
            return retr_all(p)
        finally:
            p.quit()

    def wait_mailbox(self, user: str, count: int, timeout: float = 10) -> list[bytes]:
        """Delivery to local users may be asynchronous: poll until `count` messages."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.mailbox(user)
            if len(msgs) >= count or time.monotonic() > deadline:
                return msgs
            time.sleep(0.1)


class _StartFailed(Exception):
    pass


class _SourcePOP3(poplib.POP3):
    """poplib.POP3 that can connect from a chosen local address."""

    def __init__(self, host, port, source, timeout):
        self._source = source
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self._source, 0) if self._source else None)


class _SourcePOP3SSL(poplib.POP3_SSL):
    def __init__(self, host, port, source, timeout):
        self._source = source
        super().__init__(host, port, context=client_tls_context(), timeout=timeout)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self._source, 0) if self._source else None)
        return self.context.wrap_socket(sock, server_hostname=self.host)


# --------------------------------------------------------------------------
# POP3 helpers
# --------------------------------------------------------------------------


def retr_bytes(p: poplib.POP3, n: int) -> bytes:
    resp, lines, octets = p.retr(n)
    assert resp.startswith(b"+OK"), resp
    data = b"".join(line + b"\r\n" for line in lines)
    assert len(data) == octets, (len(data), octets)
    return data


def retr_all(p: poplib.POP3) -> list[bytes]:
    count, _size = p.stat()
    return [retr_bytes(p, i) for i in range(1, count + 1)]


def split_trace(stored: bytes) -> tuple[bytes, bytes, bytes]:
    """Split a stored message into (return-path address, Received field, rest).

    The store prepends exactly `Return-Path: <sender>\\r\\n` and one Received
    field (possibly folded with tab-led continuation lines); everything after
    that must be the client's bytes.
    """
    m = re.match(rb"Return-Path: <([^>\r\n]*)>\r\n", stored)
    assert m, f"stored message does not start with Return-Path: {stored[:200]!r}"
    pos = m.end()
    assert stored.startswith(b"Received: ", pos), f"no Received field after Return-Path: {stored[:300]!r}"
    end = stored.index(b"\r\n", pos) + 2
    while stored[end:end + 1] == b"\t":
        end = stored.index(b"\r\n", end) + 2
    return m.group(1), stored[pos:end], stored[end:]


def body_of(stored: bytes) -> bytes:
    return split_trace(stored)[2]


# --------------------------------------------------------------------------
# Raw SMTP client: exact bytes on the wire, exact replies back
# --------------------------------------------------------------------------


@dataclass
class Reply:
    code: int
    lines: list[str]

    @property
    def text(self) -> str:
        """The first line without the code, e.g. '5.1.1 <x@example.test>: ...'."""
        return self.lines[0][4:]

    @property
    def full(self) -> str:
        return "\n".join(self.lines)

    def startswith(self, prefix: str) -> bool:
        """`reply.startswith("550 5.1.1")`: code and start of the first line."""
        if not self.lines:
            return False
        first = self.lines[0]
        return (first[:3] + " " + first[4:]).startswith(prefix)

    def __str__(self) -> str:
        return self.full


class ConnectionClosed(Exception):
    pass


class _RawSocket:
    """What the raw protocol clients share: a socket and the bytes read ahead."""

    sock: socket.socket
    buf: bytes

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionClosed(f"server closed the connection (pending {self.buf[:300]!r})")
        self.buf += chunk

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def is_closed(self, wait: float = 3.0) -> bool:
        """True if the server closed the connection (EOF) within `wait` seconds."""
        old = self.sock.gettimeout()
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except (ConnectionResetError, ssl.SSLError, OSError):
            return True
        finally:
            with contextlib.suppress(OSError):
                self.sock.settimeout(old)



class RawSMTP(_RawSocket):
    def __init__(self, host: str, port: int, implicit_tls: bool = False, timeout: float = 30,
                 source: str | None = None):
        self.host, self.port = host, port
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        if implicit_tls:
            self.sock = client_tls_context().wrap_socket(self.sock)
        self.buf = b""
        self.greeting = self.reply()

    # -- wire --
    def readline(self) -> str:
        while b"\r\n" not in self.buf:
            if len(self.buf) > 100_000:
                raise AssertionError(f"reply line too long: {self.buf[:200]!r}")
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("utf-8", errors="replace")

    def reply(self) -> Reply:
        lines = []
        while True:
            line = self.readline()
            assert len(line) >= 3 and line[:3].isdigit(), f"malformed reply line {line!r}"
            lines.append(line)
            if len(line) == 3 or line[3] == " ":
                return Reply(int(line[:3]), lines)
            assert line[3] == "-", f"malformed reply line {line!r}"

    def cmd(self, line: str | bytes) -> Reply:
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")
        return self.reply()

    def replies_until_quiet(self, quiet: float = 1.0) -> list[Reply]:
        """Every reply that arrives until the server has been silent for `quiet` s."""
        out = []
        old = self.sock.gettimeout()
        self.sock.settimeout(quiet)
        try:
            while True:
                while self.buf:
                    out.append(self.reply())
                try:
                    self._fill()
                except (socket.timeout, TimeoutError):
                    return out
        finally:
            self.sock.settimeout(old)

    # -- protocol --
    def ehlo(self, name: str = "client.test") -> Reply:
        r = self.cmd(f"EHLO {name}")
        assert r.code == 250, r
        return r

    def extensions(self, ehlo: Reply) -> dict[str, str]:
        out = {}
        for line in ehlo.lines[1:]:
            word, _, arg = line[4:].partition(" ")
            out[word.upper()] = arg
        return out

    def starttls(self) -> None:
        r = self.cmd("STARTTLS")
        assert r.startswith("220"), r
        assert not self.buf, f"data after the STARTTLS reply: {self.buf!r}"
        self.sock = client_tls_context().wrap_socket(self.sock)

    def auth_plain(self, user: str, password: str) -> Reply:
        import base64
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.cmd(f"AUTH PLAIN {token}")

    def data(self, message: bytes) -> Reply:
        """DATA with dot-stuffing; `message` must end with CRLF."""
        r = self.cmd("DATA")
        assert r.code == 354, r
        self.send(dot_stuff(message) + b".\r\n")
        return self.reply()

    def sendmail(self, sender: str, rcpts: list[str], message: bytes) -> Reply:
        r = self.cmd(f"MAIL FROM:<{sender}>")
        assert r.code == 250, r
        for rcpt in rcpts:
            r = self.cmd(f"RCPT TO:<{rcpt}>")
            assert r.code == 250, r
        return self.data(message)

    def quit(self) -> None:
        with contextlib.suppress(Exception):
            self.cmd("QUIT")
        self.close()

    def __exit__(self, *exc):
        self.close()


def dot_stuff(message: bytes) -> bytes:
    assert message.endswith(b"\r\n")
    out = re.sub(rb"(^|\r\n)\.", rb"\1..", message)
    return out


QUEUED_RE = re.compile(r"^250 2\.0\.0 Ok: queued as (\S+)")


def make_message(sender: str, rcpt: str, subject: str, body: str | bytes, extra_headers: bytes = b"") -> bytes:
    if isinstance(body, str):
        body = body.encode()
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    headers = (
        f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n"
        f"Message-ID: <{random.getrandbits(64):x}@client.test>\r\n"
    ).encode() + extra_headers
    return headers + b"\r\n" + body


def which(tool: str) -> str | None:
    return shutil.which(tool)


# --------------------------------------------------------------------------
# Outbound queue and delivery status notifications
# --------------------------------------------------------------------------


def wait_for(predicate, timeout: float = 20, interval: float = 0.1, what: str = "condition"):
    """Poll `predicate` until it returns something truthy; that value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def queue_list(srv: MailServer) -> list[dict]:
    """`queue list --json`: one entry per queued message."""
    res = srv.cli("queue", "list", "--json")
    value = json.loads(res.stdout)
    assert isinstance(value, list), f"queue list --json did not print a list: {res.stdout!r}"
    return value


def queue_entry(srv: MailServer, queue_id: str) -> dict | None:
    return next((e for e in queue_list(srv) if e.get("id") == queue_id), None)


def wait_queue_empty(srv: MailServer, timeout: float = 20) -> None:
    last: list = []

    def empty():
        nonlocal last
        last = queue_list(srv)
        return not last

    try:
        wait_for(empty, timeout, interval=0.2, what="an empty queue")
    except AssertionError as e:
        raise AssertionError(f"{e}; still queued: {json.dumps(last, indent=1)[:3000]}") from None


@dataclass
class DSN:
    """A delivery status notification, taken apart (RFC 3464)."""

    raw: bytes
    return_path: bytes
    message: object  # email.message.Message
    human: str  # the text/plain parts, decoded and joined
    per_message: dict  # first field group of message/delivery-status (lower-case names)
    per_recipient: list[dict]  # the other field groups
    returned_headers: str  # the text/rfc822-headers part, or the headers of a message/rfc822 part

    @property
    def actions(self) -> list[str]:
        return [r.get("action", "").lower() for r in self.per_recipient]


def parse_dsn(stored: bytes) -> DSN | None:
    """Parse a stored message as a DSN; None if it is not a multipart/report delivery-status."""
    import email
    import email.policy

    # The store prepends Return-Path (and, for mail received over SMTP, a
    # Received field); a DSN generated by the server itself may have none.
    m = re.match(rb"Return-Path: <([^>\r\n]*)>\r\n", stored)
    assert m, f"stored message does not start with Return-Path: {stored[:200]!r}"
    return_path, rest = m.group(1), stored[m.end():]
    msg = email.message_from_bytes(rest, policy=email.policy.compat32)
    if msg.get_content_type() != "multipart/report":
        return None
    if (msg.get_param("report-type") or "").lower() != "delivery-status":
        return None
    human, groups, returned = [], [], ""
    for part in msg.get_payload():
        ctype = part.get_content_type()
        if ctype == "text/plain":
            payload = part.get_payload(decode=True) or b""
            human.append(payload.decode(part.get_content_charset() or "utf-8", errors="replace"))
        elif ctype == "message/delivery-status":
            # compat32 parses each field group as a sub-message.
            for group in part.get_payload():
                groups.append({k.lower(): " ".join(str(v).split()) for k, v in group.items()})
        elif ctype == "text/rfc822-headers":
            payload = part.get_payload(decode=True) or b""
            returned = payload.decode("utf-8", errors="replace")
        elif ctype == "message/rfc822":
            inner = part.get_payload()[0]
            returned = "".join(f"{k}: {v}\n" for k, v in inner.items())
    assert groups, f"DSN without a message/delivery-status part: {rest[:2000]!r}"
    return DSN(raw=stored, return_path=return_path, message=msg, human="\n".join(human),
               per_message=groups[0], per_recipient=groups[1:], returned_headers=returned)


def dsns_with(srv: MailServer, user: str, token: str) -> list[DSN]:
    """Every DSN in `user`'s INBOX whose returned headers (or text) mention `token`."""
    out = []
    for stored in srv.mailbox(user):
        if token.encode() not in stored:
            continue
        dsn = parse_dsn(stored)
        if dsn is not None:
            out.append(dsn)
    return out


def wait_dsn(srv: MailServer, user: str, token: str, action: str = "failed", timeout: float = 20) -> DSN:
    """Wait for a DSN about `token` whose recipients have `action` (failed/delayed)."""
    def find():
        hits = [d for d in dsns_with(srv, user, token) if action in d.actions]
        return hits[0] if hits else None
    return wait_for(find, timeout, interval=0.25, what=f"a DSN with Action: {action} about {token} for {user}")


# --------------------------------------------------------------------------
# Raw IMAP client: exact bytes on the wire, every response kept
# --------------------------------------------------------------------------


@dataclass
class IMAPResponse:
    """Everything the server sent for one tagged command."""

    tag: str
    tagged: str  # the tagged line without the tag, e.g. "OK [READ-WRITE] SELECT completed"
    untagged: list[str]  # each untagged response, without "* ", literals inline (decoded)
    raw: list[bytes]  # each untagged response exactly as sent (literals inline)
    continuations: list[str]  # "+ ..." lines seen while the command ran

    @property
    def status(self) -> str:
        return self.tagged.split(" ", 1)[0].upper()

    @property
    def code(self) -> str | None:
        """The response code of the tagged line, e.g. "APPENDUID 7 3", or None."""
        m = re.match(r"\w+ \[([^\]]*)\]", self.tagged)
        return m.group(1) if m else None

    def named(self, word: str) -> list[str]:
        """Untagged responses whose name is `word` (FETCH, EXISTS, LIST, ...):
        the first word, or the second after a number."""
        w = word.upper()
        out = []
        for line in self.untagged:
            parts = line.split(" ", 2)
            if parts[0].upper() == w or (parts[0].isdigit() and len(parts) > 1 and parts[1].upper() == w):
                out.append(line)
        return out

    def __str__(self) -> str:
        lines = [f"* {u}" for u in self.untagged] + [f"+ {c}" for c in self.continuations]
        return "\n".join(lines + [f"{self.tag} {self.tagged}"])


_LITERAL_AT_END = re.compile(rb"~?\{(\d+)\+?\}$")


class RawIMAP(_RawSocket):
    """A small IMAP client that shows the exact responses.

    `cmd("APPEND INBOX ", message_bytes)` sends str pieces as command text and
    bytes pieces as literals (`{n}` and waiting for the continuation, or
    `{n+}` with `literal_plus=True`).
    """

    def __init__(self, host: str, port: int, implicit_tls: bool = True, timeout: float = 30):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        # Literals are written in several pieces: no Nagle delay between them.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if implicit_tls:
            self.sock = client_tls_context().wrap_socket(self.sock)
        self.buf = b""
        self.n = 0
        self.greeting = self.read_response().decode("utf-8", "replace")

    # -- wire --
    def read_line(self) -> bytes:
        """One line without its CRLF."""
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self) -> bytes:
        """One whole response: a line, plus the literals it announces."""
        out = self.read_line()
        while (m := _LITERAL_AT_END.search(out)) is not None:
            out += b"\r\n" + self.read_exact(int(m.group(1)))
            out += self.read_line()
        return out

    def next_tag(self) -> str:
        self.n += 1
        return f"A{self.n:03d}"

    # -- commands --
    def cmd(self, *parts: str | bytes, tag: str | None = None, literal_plus: bool = False) -> IMAPResponse:
        tag = tag or self.next_tag()
        resp = IMAPResponse(tag, "", [], [], [])
        pending = tag.encode() + b" "
        for part in parts:
            if isinstance(part, str):
                pending += part.encode()
                continue
            if literal_plus:
                pending += b"{%d+}\r\n" % len(part) + part
                continue
            self.send(pending + b"{%d}\r\n" % len(part))
            pending = b""
            if self._collect(resp, until_continuation=True):
                return resp  # refused before the literal was sent
            self.send(part)
        self.send(pending + b"\r\n")
        self._collect(resp)
        return resp

    def _collect(self, resp: IMAPResponse, until_continuation: bool = False) -> bool:
        """Reads responses into `resp`; True once the tagged line arrived."""
        prefix = resp.tag.encode() + b" "
        while True:
            raw = self.read_response()
            if raw.startswith(b"* "):
                resp.raw.append(raw[2:])
                resp.untagged.append(raw[2:].decode("utf-8", "replace"))
            elif raw.startswith(b"+"):
                resp.continuations.append(raw[2:].decode("utf-8", "replace"))
                if until_continuation:
                    return False
            elif raw.startswith(prefix):
                resp.tagged = raw[len(prefix):].decode("utf-8", "replace")
                return True
            else:
                raise AssertionError(f"unexpected response line {raw[:300]!r} (waiting for {resp.tag})")

    def ok(self, *parts: str | bytes, **kw) -> IMAPResponse:
        """`cmd` that must end in a tagged OK."""
        r = self.cmd(*parts, **kw)
        assert r.status == "OK", f"{parts[0]!r} failed:\n{r}"
        return r

    def login(self, user: str, password: str) -> IMAPResponse:
        return self.ok(f"LOGIN {imap_quote(user)} {imap_quote(password)}")

    def starttls(self) -> IMAPResponse:
        r = self.ok("STARTTLS")
        assert not self.buf, f"data after the STARTTLS response: {self.buf!r}"
        self.sock = client_tls_context().wrap_socket(self.sock)
        return r

    def responses_until_quiet(self, quiet: float = 1.0) -> list[bytes]:
        """Every response that arrives until the server has been silent for `quiet` s."""
        out = []
        old = self.sock.gettimeout()
        self.sock.settimeout(quiet)
        try:
            while True:
                while b"\r\n" in self.buf:
                    out.append(self.read_response())
                try:
                    self._fill()
                except (socket.timeout, TimeoutError):
                    return out
        finally:
            self.sock.settimeout(old)

    def wait_for(self, predicate, timeout: float = 5.0) -> tuple[bytes, list[bytes]]:
        """Reads responses until `predicate(line)` holds; returns that line and all lines read."""
        seen = []
        deadline = time.monotonic() + timeout
        old = self.sock.gettimeout()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 and b"\r\n" not in self.buf:
                    raise AssertionError(f"no matching response within {timeout}s; got {seen!r}")
                self.sock.settimeout(max(left, 0.01))
                try:
                    line = self.read_response()
                except (socket.timeout, TimeoutError):
                    continue
                seen.append(line)
                if predicate(line):
                    return line, seen
        finally:
            self.sock.settimeout(old)

    def logout(self) -> None:
        with contextlib.suppress(Exception):
            self.cmd("LOGOUT")
        self.close()

    def __exit__(self, *exc):
        self.logout()


def imap_quote(s: str) -> str:
    """An IMAP quoted string."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_imap(data: bytes | str):
    """Parses IMAP response data into Python values: lists for parenthesised
    lists, bytes for strings and literals, None for NIL, str for atoms and
    numbers. `BODY[HEADER.FIELDS (A B)]<0>` stays one atom."""
    if isinstance(data, str):
        data = data.encode()
    pos = 0
    n = len(data)

    def value():
        nonlocal pos
        c = data[pos:pos + 1]
        if c == b"(":
            pos += 1
            items = []
            while True:
                while data[pos:pos + 1] == b" ":
                    pos += 1
                if data[pos:pos + 1] == b")":
                    pos += 1
                    return items
                if pos >= n:
                    raise ValueError(f"unterminated list in {data[:200]!r}")
                items.append(value())
        if c == b'"':
            pos += 1
            out = bytearray()
            while data[pos:pos + 1] != b'"':
                if data[pos:pos + 1] == b"\\":
                    pos += 1
                if pos >= n:
                    raise ValueError(f"unterminated string in {data[:200]!r}")
                out += data[pos:pos + 1]
                pos += 1
            pos += 1
            return bytes(out)
        m = re.compile(rb"~?\{(\d+)\+?\}\r\n").match(data, pos)
        if m:
            size = int(m.group(1))
            pos = m.end() + size
            return data[m.end():pos]
        start = pos
        depth = 0
        while pos < n:
            ch = data[pos:pos + 1]
            if ch == b"[":
                depth += 1
            elif ch == b"]":
                depth -= 1
            elif depth == 0 and ch in (b" ", b"(", b")"):
                break
            pos += 1
        atom = data[start:pos].decode("utf-8", "replace")
        if atom.upper() == "NIL":
            return None
        return atom

    items = []
    while pos < n:
        while data[pos:pos + 1] == b" ":
            pos += 1
        if pos >= n:
            break
        items.append(value())
    return items


def fetch_items(untagged: str | bytes) -> tuple[int, dict]:
    """`n FETCH (K V K V ...)` -> (n, {K upper-cased: V})."""
    parts = parse_imap(untagged)
    assert len(parts) == 3 and str(parts[1]).upper() == "FETCH" and isinstance(parts[2], list), untagged
    kv = parts[2]
    assert len(kv) % 2 == 0, f"odd FETCH item list: {untagged!r}"
    return int(parts[0]), {str(kv[i]).upper(): kv[i + 1] for i in range(0, len(kv), 2)}


def seqset_values(s: str) -> list[int]:
    """Expands a sequence set without `*` (e.g. "1:3,7") into numbers."""
    out = []
    for part in s.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out.extend(range(min(a, b), max(a, b) + 1))
        else:
            out.append(int(part))
    return out
