"""Hostile and malformed input. After every case, another client must still
be served normally (`assert_served`)."""

from __future__ import annotations

import base64
import poplib
import socket
import threading
import time
import uuid

import pytest

from mailroom import (PASSWORDS, QUEUED_RE, RawSMTP, client_tls_context, make_message, retr_all,
                      split_trace)

ALICE, BOB, CAROL = "alice@example.test", "bob@example.test", "carol@example.test"
SENDER = "sender@remote.test"


def tokens_in(server, user: str, needle: bytes, source: str | None = None) -> list[bytes]:
    p = server.pop3(user, source=source)
    try:
        return [m for m in retr_all(p) if needle in m]
    finally:
        p.quit()


def assert_served(server, source: str | None = None) -> None:
    """A separate client delivers a message and it can be read back."""
    t = uuid.uuid4().hex
    msg = make_message(SENDER, CAROL, f"canary {t}", f"canary {t}\r\n")
    with RawSMTP(*server.addr("smtp"), timeout=15, source=source) as c:
        c.ehlo()
        r = c.sendmail(SENDER, [CAROL], msg)
        assert QUEUED_RE.match(r.lines[0]), r
        c.quit()
    deadline = time.monotonic() + 10
    while True:
        hits = tokens_in(server, CAROL, t.encode(), source)
        if hits or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(hits) == 1 and split_trace(hits[0])[2] == msg


def only_reply(c: RawSMTP, quiet: float = 1.5):
    replies = c.replies_until_quiet(quiet)
    assert len(replies) == 1, f"expected exactly one reply, got {[str(r) for r in replies]}"
    return replies[0]


# ---------------------------------------------------------------- command lines

def test_megabyte_command_line(server):
    with server.smtp("smtp") as c:
        c.ehlo()
        c.send(b"MAIL FROM:<" + b"a" * (1024 * 1024) + b"@remote.test>\r\n")
        r = only_reply(c, 3)
        assert r.startswith("500 5.5.2"), r
        # The session goes on: the next command is parsed on its own.
        c.send(b"NOOP\r\n")
        assert only_reply(c).code == 250
        t = uuid.uuid4().hex
        msg = make_message(SENDER, BOB, t, t)
        assert c.sendmail(SENDER, [BOB], msg).startswith("250 2.0.0")
    assert len(tokens_in(server, BOB, t.encode())) == 1
    assert_served(server)


def test_line_just_over_limit(server):
    with server.smtp("smtp") as c:
        c.ehlo()
        line = b"RCPT TO:<" + b"b" * 600 + b"@example.test>\r\n"
        assert len(line) > 512
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        c.send(line)
        assert only_reply(c).startswith("500 5.5.2")
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
    assert_served(server)


def test_512_octet_line_is_allowed(server):
    """512 octets including CRLF is the limit (RFC 5321 4.5.3.1.4), not over it."""
    with server.smtp("smtp") as c:
        c.ehlo()
        line = b"NOOP " + b"n" * (512 - 7) + b"\r\n"
        assert len(line) == 512
        c.send(line)
        r = only_reply(c)
        assert r.code == 250, r
        c.send(b"NOOP " + b"n" * (513 - 7) + b"\r\n")
        assert only_reply(c).startswith("500 5.5.2")


def test_nul_byte_in_command(server):
    with server.smtp("smtp") as c:
        c.ehlo()
        c.send(b"MAIL FROM:<al\x00ice@remote.test>\r\n")
        r = only_reply(c)
        assert r.startswith("500 5.5.2"), r
        # No MAIL was accepted.
        assert c.cmd(f"RCPT TO:<{BOB}>").startswith("503 5.5.1")
        c.send(b"NO\x00OP\r\n")
        assert only_reply(c).startswith("500 5.5.2")
        assert c.cmd("NOOP").code == 250
    assert_served(server)


def test_rcpt_before_mail(server):
    with server.smtp("smtp") as c:
        c.ehlo()
        assert c.cmd(f"RCPT TO:<{BOB}>").startswith("503 5.5.1")
    assert_served(server)


# ---------------------------------------------------------------- DATA framing

SMUGGLING = [
    # (name, payload after the 354)
    ("lf-dot-lf", b"\n.\n"),
    ("crlf-dot-lf", b"\r\n.\n"),
    ("lf-dot-crlf", b"\n.\r\n"),
    ("cr-dot-cr", b"\r.\r"),
    ("crlf-dot-cr", b"\r\n.\r"),
]


@pytest.mark.parametrize("name,sep", SMUGGLING, ids=[s[0] for s in SMUGGLING])
def test_smuggling_attempt_is_one_554(server, name, sep):
    t = uuid.uuid4().hex
    payload = (
        f"From: <{SENDER}>\r\nTo: <{BOB}>\r\nSubject: outer {t}\r\n\r\nhello {t}".encode()
        + sep
        + b"MAIL FROM:<x@evil.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
        + f"Subject: smuggled {t}\r\n\r\nsmuggled\r\n.\r\n".encode()
    )
    with server.smtp("smtp") as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(payload)
        r = only_reply(c, 1.5)
        assert r.startswith("554 5.6.11"), r
        # Nothing of it became a command: no transaction is open.
        c.send(f"RCPT TO:<{BOB}>\r\n".encode())
        assert only_reply(c, 0.5).startswith("503 5.5.1")
        c.send(b"NOOP\r\n")
        assert only_reply(c, 0.5).code == 250
        # And the session is still good for a real message.
        t2 = uuid.uuid4().hex
        good = make_message(SENDER, BOB, t2, t2)
        assert c.sendmail(SENDER, [BOB], good).startswith("250 2.0.0")
        c.quit()
    assert len(tokens_in(server, BOB, t2.encode())) == 1
    assert tokens_in(server, BOB, t.encode()) == [], "part of the rejected message was delivered"
    assert tokens_in(server, BOB, b"x@evil.test") == []
    assert_served(server)


@pytest.mark.parametrize("body", [b"one\ntwo\r\n", b"one\rtwo\r\n", b"trailing bare LF\n\r\n"],
                         ids=["bare-lf", "bare-cr", "lf-before-crlf"])
def test_bare_line_endings_rejected(server, body):
    t = uuid.uuid4().hex
    with server.smtp("smtp") as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(f"Subject: {t}\r\n\r\n".encode() + body + b".\r\n")
        assert only_reply(c).startswith("554 5.6.11")
        assert c.cmd("NOOP").code == 250
    assert tokens_in(server, BOB, t.encode()) == []
    assert_served(server)


def test_data_ends_only_at_crlf_dot_crlf(server):
    """A '.' line after a bare LF must not end DATA; the real end is later."""
    with server.smtp("smtp") as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: x\r\n\r\nbody\n.\n")
        # Not the end of data: the server must still be waiting.
        assert c.replies_until_quiet(1.0) == []
        c.send(b"more\r\n.\r\n")
        assert only_reply(c).startswith("554 5.6.11")


# ---------------------------------------------------------------- STARTTLS injection

def test_starttls_command_injection(server):
    with server.smtp("smtp") as c:
        c.ehlo()
        c.send(b"STARTTLS\r\nMAIL FROM:<a@b.test>\r\n")
        r = c.reply()
        assert r.startswith("220"), r
        assert c.buf == b"", f"server answered the injected command in cleartext: {c.buf!r}"
        c.sock = client_tls_context().wrap_socket(c.sock)
        ext = c.extensions(c.ehlo())
        assert "STARTTLS" not in ext
        r = c.cmd(f"RCPT TO:<{BOB}>")
        assert r.startswith("503 5.5.1"), f"injected MAIL survived the TLS handshake: {r}"
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
    assert_served(server)


def test_starttls_injection_on_submission(server):
    with server.smtp("submission") as c:
        c.ehlo()
        token = base64.b64encode(f"\0{ALICE}\0{PASSWORDS[ALICE]}".encode()).decode()
        c.send(f"STARTTLS\r\nAUTH PLAIN {token}\r\n".encode())
        assert c.reply().startswith("220")
        assert c.buf == b"", f"server answered the injected command in cleartext: {c.buf!r}"
        c.sock = client_tls_context().wrap_socket(c.sock)
        c.ehlo()
        # The injected AUTH must not count: MAIL still needs authentication.
        assert c.cmd(f"MAIL FROM:<{ALICE}>").startswith("530 5.7.0")


def test_stls_command_injection_pop3(server):
    host, port = server.addr("pop3")
    s = socket.create_connection((host, port), timeout=15)
    f = s.makefile("rb")
    assert f.readline().startswith(b"+OK")
    s.sendall(f"STLS\r\nUSER {ALICE}\r\n".encode())
    assert f.readline().startswith(b"+OK")
    tls = client_tls_context().wrap_socket(s)
    tf = tls.makefile("rb")
    tls.sendall(f"PASS {PASSWORDS[ALICE]}\r\n".encode())
    line = tf.readline()
    assert line.startswith(b"-ERR"), f"injected USER survived STLS: {line!r}"
    tls.sendall(b"QUIT\r\n")
    tls.close()
    assert_served(server)


# ---------------------------------------------------------------- size limits

LIMIT = 1_000_000


@pytest.fixture(scope="module")
def small_server(server_factory):
    return server_factory(settings={"max_message_size": LIMIT})


def test_size_is_advertised(small_server):
    with small_server.smtp("smtp") as c:
        assert c.extensions(c.ehlo())["SIZE"] == str(LIMIT)


def test_size_param_too_big_is_552_at_mail(small_server):
    with small_server.smtp("smtp") as c:
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<{SENDER}> SIZE={LIMIT + 1}")
        assert r.startswith("552 5.3.4"), r
        assert c.cmd(f"MAIL FROM:<{SENDER}> SIZE={LIMIT - 1000}").code == 250
    assert_served(small_server)


def test_oversized_message_is_552_after_data(small_server):
    t = uuid.uuid4().hex
    body = (b"0123456789" * 10 + b"\r\n") * (LIMIT // 100 + 100)
    with small_server.smtp("smtp") as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(f"Subject: big {t}\r\n\r\n".encode() + body + b".\r\n")
        r = only_reply(c, 3)
        assert r.startswith("552 5.3.4"), r
        assert c.cmd("NOOP").code == 250
        # A message of the allowed size still goes through on this session.
        ok = f"Subject: fits {t}\r\n\r\n".encode() + b"y" * 100 + b"\r\n"
        assert c.sendmail(SENDER, [BOB], ok).startswith("250 2.0.0")
    hits = tokens_in(small_server, BOB, t.encode())
    assert len(hits) == 1 and b"fits" in hits[0]
    assert_served(small_server)


def _data_of_size(size: int) -> bytes:
    head = b"Subject: boundary\r\n\r\n"
    line = b"b" * 98 + b"\r\n"
    n, rest = divmod(size - len(head), len(line))
    assert rest >= 2
    msg = head + line * n + b"c" * (rest - 2) + b"\r\n"
    assert len(msg) == size
    return msg


def test_size_boundary(small_server):
    """Exactly max_message_size octets is accepted; one more is refused."""
    with small_server.smtp("smtp") as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}> SIZE={LIMIT}").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        r = c.data(_data_of_size(LIMIT))
        assert r.startswith("250 2.0.0"), f"a message of exactly {LIMIT} octets: {r}"
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        r = c.data(_data_of_size(LIMIT + 1))
        assert r.startswith("552 5.3.4"), f"a message of {LIMIT + 1} octets: {r}"


def test_oversized_bdat_is_552(small_server):
    with small_server.smtp("smtp") as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        chunk = b"z" * 400_000 + b"\r\n"
        replies = []
        for i in range(4):
            last = " LAST" if i == 3 else ""
            c.send(f"BDAT {len(chunk)}{last}\r\n".encode() + chunk)
            replies.append(c.reply())
        assert any(r.startswith("552 5.3.4") for r in replies), [str(r) for r in replies]
        assert not any(QUEUED_RE.match(r.lines[0]) for r in replies)
        assert c.cmd("RSET").code == 250
    assert_served(small_server)


@pytest.mark.parametrize("shape", ["lines", "one-line"])
def test_huge_message_memory_is_bounded(small_server, shape):
    """200 MB against a 1 MB limit: 552, little memory, others still served."""
    total = 200 * 1024 * 1024
    block = (b"x" * 1022 + b"\r\n") if shape == "lines" else b"x" * 1024
    blob = block * 1024  # 1 MiB
    hwm_before = small_server.status_field("VmHWM")
    served: list[BaseException | None] = []

    def other_client():
        time.sleep(0.5)
        try:
            assert_served(small_server)
            served.append(None)
        except BaseException as e:  # noqa: BLE001 - reported below
            served.append(e)

    th = threading.Thread(target=other_client)
    with small_server.smtp("smtp", timeout=120) as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        assert c.cmd("DATA").code == 354
        th.start()
        c.send(b"Subject: huge\r\n\r\n")
        sent = 0
        while sent < total:
            c.send(blob)
            sent += len(blob)
        c.send(b"\r\n.\r\n")
        r = c.reply()
        assert r.startswith("552 5.3.4"), r
        assert c.cmd("NOOP").code == 250
    th.join(60)
    assert served == [None], served
    grew = small_server.status_field("VmHWM") - hwm_before
    print(f"\n{shape}: VmHWM {hwm_before / 2**20:.1f} MiB before, grew {grew / 2**20:.1f} MiB")
    assert grew < 64 * 1024 * 1024, f"peak RSS grew by {grew / 2**20:.1f} MiB for a rejected 200 MiB message"


# ---------------------------------------------------------------- authentication throttling

def _auth_attempt(server, password: str, source: str | None = None) -> tuple[RawSMTP, object, float]:
    c = RawSMTP(*server.addr("submissions"), implicit_tls=True, timeout=30, source=source)
    c.ehlo()
    start = time.monotonic()
    try:
        r = c.auth_plain(ALICE, password)
    except Exception:
        c.close()
        raise
    return c, r, time.monotonic() - start


def test_correct_login_works_after_three_failures(fresh_server):
    for _ in range(3):
        c, r, _ = _auth_attempt(fresh_server, "wrong")
        assert r.startswith("535 5.7.8"), r
        c.close()
    c, r, _ = _auth_attempt(fresh_server, PASSWORDS[ALICE])
    assert r.startswith("235"), r
    assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
    c.quit()


@pytest.mark.slow
def test_failed_logins_are_delayed_then_blocked(fresh_server):
    # Ten counted failures, each answered 535 after min(n-1, 5) seconds.
    for n in range(1, 11):
        if n == 6:
            # While this IP waits out a 5 s penalty, other clients are served.
            holder = {}
            th = threading.Thread(target=lambda: holder.update(res=_auth_attempt(fresh_server, "wrong")))
            th.start()
            time.sleep(0.3)
            t0 = time.monotonic()
            assert_served(fresh_server)
            assert time.monotonic() - t0 < 3, "an AUTH penalty delayed an unrelated client"
            th.join(30)
            c, r, took = holder["res"]
        else:
            c, r, took = _auth_attempt(fresh_server, "wrong")
        c.close()
        expected = min(n - 1, 5)
        assert r.startswith("535 5.7.8"), f"failure {n}: {r}"
        assert expected - 0.25 <= took <= expected + 2.0, f"failure {n}: answered after {took:.2f}s, expected {expected}s"

    # With ten failures on record, the next AUTH gets 421 4.7.0 and the
    # connection is closed.
    c, r, _ = _auth_attempt(fresh_server, "wrong")
    assert r.startswith("421 4.7.0"), f"AUTH after 10 failures: {r}"
    assert c.is_closed(), "connection left open after 421"
    c.close()

    # From now on even the right password is refused from this address ...
    c, r, _ = _auth_attempt(fresh_server, PASSWORDS[ALICE])
    assert r.startswith("421 4.7.0"), r
    assert c.is_closed()
    c.close()

    # ... while another address is unaffected, for AUTH and for mail.
    c, r, _ = _auth_attempt(fresh_server, PASSWORDS[ALICE], source="127.0.0.2")
    assert r.startswith("235"), r
    c.quit()
    assert_served(fresh_server, source="127.0.0.2")

    # POP3 shares the per-address accounting.
    p = fresh_server.pop3()
    p.user(ALICE)
    with pytest.raises(poplib.error_proto):
        p.pass_(PASSWORDS[ALICE])
    p.close()
