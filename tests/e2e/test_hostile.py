"""The server under attack: every hostile case of the hardening work at once.

One real mailroomd is attacked from loopback addresses of their own (127.0.0.66
and up, one per kind of attack, so the login throttle and the per-address
limits see each attacker as one client) while ordinary users on 127.0.0.1 go on
sending and reading mail. The test checks what an
office would notice:

- ordinary users are served throughout (every submission acknowledged, every
  login answered) and nothing acknowledged is lost;
- the server's memory stays bounded (resident size read from /proc) while
  clients hold huge bodies, literals and FETCH replies;
- every hostile client gets a protocol answer or is closed, none wedges the
  server, and the server is still healthy (and stops cleanly) afterwards.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest

from mailroom import PASSWORDS, client_tls_context, make_message, retr_all, wait_for

IDLE_TLS, APPEND_BOMBS, BIG_BODIES, GUESSER, READER = (f"127.0.0.{n}" for n in range(66, 71))
MIB = 1024 * 1024
PASSWORDS_PM = "postmaster-pw-9"


def rss_mib(pid: int) -> float:
    """Current resident size of the process, in MiB."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc status")


def connect(source: str, addr: tuple[str, int], tls: bool = False, timeout: float = 30) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(addr)
    if tls:
        s = client_tls_context().wrap_socket(s)
    return s


def read_until(s: socket.socket, marker: bytes, limit: int = 1 << 20) -> bytes:
    buf = b""
    while marker not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        if len(buf) > limit:
            break
    return buf


def closed_within(s: socket.socket, seconds: float) -> bool:
    """True when the server closes the connection within `seconds`
    (anything it says before closing is read and dropped)."""
    s.settimeout(1)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if not s.recv(65536):
                return True
        except socket.timeout:
            continue
        except (ConnectionError, ssl.SSLError, OSError):
            return True
    return False


class OrdinaryUsers(threading.Thread):
    """bob submits a message to carol every half second on 587 (STARTTLS, login);
    each acknowledged subject is recorded, as is the slowest round."""

    def __init__(self, srv):
        super().__init__(daemon=True)
        self.srv = srv
        self.stop = threading.Event()
        self.acked: list[str] = []
        self.failures: list[str] = []
        self.slowest = 0.0

    def run(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            subject = f"ordinary {n}"
            started = time.monotonic()
            try:
                with self.srv.smtplib("submission") as c:
                    c.starttls(context=client_tls_context())
                    c.login("bob@example.test", PASSWORDS["bob@example.test"])
                    c.sendmail("bob@example.test", ["carol@example.test"],
                               make_message("bob@example.test", "carol@example.test", subject, "hello"))
                self.acked.append(subject)
            except Exception as e:  # noqa: BLE001 - every failure is a finding
                self.failures.append(f"{subject}: {e!r}")
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.stop.wait(0.5)


@pytest.fixture(scope="module")
def server(server_factory):
    srv = server_factory(start=False)
    srv.cli("account", "passwd", "postmaster@example.test", "--password", PASSWORDS_PM)
    return srv.start()


def test_hostile_clients_do_not_starve_or_lose_mail(server):
    srv = server
    pid = srv.pid
    imaps = srv.addr("imaps")
    smtp = srv.addr("smtp")
    baseline = rss_mib(pid)

    users = OrdinaryUsers(srv)
    users.start()
    hostile: list[socket.socket] = []
    findings: list[str] = []
    try:
        # 1. Idle connections to the TLS port that never start a handshake.
        idle_tls = [connect(IDLE_TLS, imaps) for _ in range(40)]
        hostile += idle_tls

        # 2. Unauthenticated APPEND literal bombs: 8 clients announce 19 MB.
        bombs = []
        for _ in range(8):
            s = connect(APPEND_BOMBS, imaps, tls=True)
            read_until(s, b"\r\n")
            s.sendall(b"a APPEND INBOX {19000000+}\r\n")
            bombs.append(s)
        hostile += bombs

        def stream_bomb(s):
            chunk = b"x" * 65536
            try:
                for _ in range(19000000 // len(chunk)):
                    s.sendall(chunk)
            except OSError:
                pass  # closed by the server: what we want

        bomb_threads = [threading.Thread(target=stream_bomb, args=(s,), daemon=True) for s in bombs]
        for t in bomb_threads:
            t.start()

        # 3. Strangers on port 25 with big bodies held before the final dot.
        big = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * (8 * 1024)  # 8 MiB
        holders = []
        for i in range(16):
            s = connect(BIG_BODIES, smtp)
            read_until(s, b"\r\n")
            s.sendall(b"EHLO attacker.test\r\n")
            read_until(s, b"250 ")
            s.sendall(f"MAIL FROM:<held{i}@remote.test>\r\n".encode())
            read_until(s, b"\r\n")
            s.sendall(b"RCPT TO:<postmaster@example.test>\r\n")
            read_until(s, b"\r\n")
            s.sendall(b"DATA\r\n")
            assert read_until(s, b"\r\n").startswith(b"354")
            holders.append(s)

        def send_body(s):
            s.sendall(big)

        body_threads = [threading.Thread(target=send_body, args=(s,), daemon=True) for s in holders]
        for t in body_threads:
            t.start()

        # 4. Fifty wrong passwords at once from one address.
        def guess(results):
            try:
                s = connect(GUESSER, imaps, tls=True)
                read_until(s, b"\r\n")
                s.sendall(b"g LOGIN alice@example.test wrong-password\r\n")
                results.append(read_until(s, b"g ", limit=4096))
                s.close()
            except OSError as e:
                results.append(repr(e).encode())

        guesses: list[bytes] = []
        guess_threads = [threading.Thread(target=guess, args=(guesses,), daemon=True) for _ in range(50)]
        for t in guess_threads:
            t.start()

        # 5. A logged-in user asks for one 4 MiB message forty times in one FETCH,
        #    and a MIME part bomb's structure.
        alice = srv.imap("alice@example.test")
        big_msg = b"Subject: fetch me\r\n\r\n" + (b"z" * 998 + b"\r\n") * (4 * 1024)
        alice.append("INBOX", None, None, big_msg)
        bomb_msg = (b"Subject: parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
                    + b"--b\r\n\r\n" * 300000 + b"--b--\r\n")
        alice.append("INBOX", None, None, bomb_msg)
        alice.select("INBOX")
        s = connect(READER, imaps, tls=True)
        read_until(s, b"\r\n")
        s.sendall(b"l LOGIN alice@example.test " + PASSWORDS["alice@example.test"].encode() + b"\r\n")
        assert b"l OK" in read_until(s, b"l ")
        s.sendall(b"s SELECT INBOX\r\n")
        assert b"s OK" in read_until(s, b"s OK")
        s.sendall(b"f FETCH 1 (" + b" ".join([b"BODY.PEEK[]"] * 40) + b")\r\n")
        got = 0
        peak = rss_mib(pid)
        s.settimeout(60)
        tail = b""
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
            tail = (tail + chunk)[-200:]
            peak = max(peak, rss_mib(pid))
            if b"\r\nf OK" in tail or b"\r\nf BAD" in tail or b"\r\nf NO" in tail:
                break
        assert got >= 40 * len(big_msg), f"the FETCH reply was cut short: {got} bytes"
        s.close()
        typ, data = alice.fetch("2", "(BODYSTRUCTURE)")
        assert typ == "OK", data
        typ, data = alice.fetch("2", "(BODY.PEEK[])")
        assert typ == "OK" and data[0][1] == bomb_msg, "the part bomb is no longer readable"

        # Memory while all of that is in flight.
        for t in body_threads:
            t.join(timeout=60)
        for t in guess_threads:
            t.join(timeout=60)
        peak = max(peak, rss_mib(pid))
        grown = peak - baseline
        assert grown < 200, f"server memory grew by {grown:.0f} MiB under attack (baseline {baseline:.0f} MiB)"

        # The hostile clients got answers or were closed.
        assert len(guesses) == 50
        assert all(b"NO" in g or b"BYE" in g or b"Error" in g or b"reset" in g.lower() for g in guesses), guesses
        for b in bombs:
            if not closed_within(b, 20):
                findings.append("an unauthenticated APPEND bomb was not closed")
        if not all(closed_within(c, 40) for c in idle_tls):
            findings.append("an idle TLS connection without handshake kept its slot")

        # The held bodies are finished now: each must be acknowledged and kept.
        for s in holders:
            s.sendall(b".\r\n")
            reply = read_until(s, b"\r\n")
            assert reply.startswith(b"250"), reply
            s.sendall(b"QUIT\r\n")
    finally:
        time.sleep(2)
        users.stop.set()
        users.join(timeout=60)
        for s in hostile:
            try:
                s.close()
            except OSError:
                pass

    assert not findings, findings
    assert not users.failures, users.failures[:5]
    assert len(users.acked) >= 10, "the ordinary user barely got through"
    assert users.slowest < 20, f"an ordinary submission took {users.slowest:.1f} s during the attack"

    # Nothing acknowledged is lost: carol has every ordinary message ...
    def carol_has_all():
        p = srv.pop3("carol@example.test")
        try:
            subjects = {line.split(b":", 1)[1].strip().decode()
                        for m in retr_all(p) for line in m.split(b"\r\n") if line.startswith(b"Subject:")}
        finally:
            p.quit()
        return set(users.acked) <= subjects

    wait_for(carol_has_all, timeout=30, what="every acknowledged ordinary message in carol's mailbox")
    # ... and postmaster has the 16 held bodies, byte for byte.
    p = srv.pop3("postmaster@example.test", password=PASSWORDS_PM)
    try:
        held = [m for m in retr_all(p) if b"Subject: big" in m]
    finally:
        p.quit()
    assert len(held) == 16, f"{len(held)} of the 16 acknowledged big messages are in the mailbox"
    assert all(m.endswith(big) for m in held), "a big message was not kept byte for byte"

    # Still healthy: an ordinary login and a clean stop.
    imap = srv.imap("alice@example.test")
    imap.logout()
    assert srv.stop() == 0
