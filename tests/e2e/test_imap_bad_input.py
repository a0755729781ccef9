"""Hostile and malformed IMAP input. Each case gets a tagged BAD or NO (or,
where the stream cannot be resynchronised, BYE and close), the connection
stays usable, memory stays bounded, and a bystander session on the same
account goes on working (`bystander` / `assert_served`)."""

from __future__ import annotations

import contextlib
import re
import socket
import time
import uuid

import pytest

from mailroom import RawIMAP, client_tls_context, make_message

MiB = 1024 * 1024


def tok() -> str:
    return uuid.uuid4().hex


def message(subject: str) -> bytes:
    return make_message("sender@remote.test", "someone@example.test", subject, f"body of {subject}\r\n")


def tagged(c: RawIMAP, tag: bytes, timeout: float = 10) -> tuple[bytes, list[bytes]]:
    """Reads until the tagged response for `tag` (or an untagged BAD/BYE, which
    the caller's assertion then shows); returns it and everything read."""
    return c.wait_for(lambda l: l.startswith((tag + b" ", b"* BAD", b"* BYE")), timeout=timeout)


def assert_usable(c: RawIMAP) -> None:
    r = c.cmd("NOOP")
    assert r.status == "OK", f"the connection is no longer usable:\n{r}"


@pytest.fixture
def c(server, acct):
    conn = server.raw_imap(*acct)
    yield conn
    conn.close()


@pytest.fixture
def bystander(server, acct):
    """Another session of the same account, with INBOX selected; checked after the test."""
    other = server.raw_imap(*acct)
    other.ok("SELECT INBOX")
    yield other
    assert_served(server, acct, other)
    other.logout()


def assert_served(server, acct, other: RawIMAP) -> None:
    """The bystander still works, and so does a new session."""
    body = message(f"canary {tok()}")
    r1 = other.ok("APPEND INBOX ", body)
    r2 = other.ok("NOOP")
    assert any(u.endswith(" EXISTS") for u in r1.untagged + r2.untagged), f"{r1}\n{r2}"
    with server.raw_imap(*acct) as fresh:
        fresh.ok("EXAMINE INBOX")
        r = fresh.ok("SEARCH ALL")
        assert r.named("SEARCH"), r


@contextlib.contextmanager
def bounded_memory(server, limit: int = 64 * MiB):
    before = server.status_field("VmRSS")
    yield
    after = server.status_field("VmRSS")
    assert after - before < limit, f"VmRSS grew by {(after - before) / MiB:.1f} MiB"


# ---------------------------------------------------------------- oversized input


def test_append_2gb_synchronising_literal_is_toobig(server, c, bystander):
    with bounded_memory(server):
        c.send(b"A1 APPEND INBOX {2147483648}\r\n")
        line, seen = tagged(c, b"A1")
        assert not any(l.startswith(b"+") for l in seen), f"continuation sent for a 2 GB literal: {seen}"
        assert re.match(rb"A1 NO \[TOOBIG\]", line), line
        assert_usable(c)
        r = c.ok("STATUS INBOX (MESSAGES)")
        assert r.named("STATUS")[0].endswith("(MESSAGES 0)"), r


def test_append_2gb_non_synchronising_literal_is_bye(server, c, bystander):
    with bounded_memory(server):
        c.send(b"A1 APPEND INBOX {2147483648+}\r\n")
        line, seen = tagged(c, b"A1")
        assert line.startswith(b"* BYE"), seen
        assert c.is_closed(5), "connection still open after BYE"


def test_huge_literal_in_other_command_is_bad(server, c, bystander):
    with bounded_memory(server):
        c.ok("SELECT INBOX")
        c.send(b"A1 SEARCH TEXT {2147483648}\r\n")
        line, seen = tagged(c, b"A1")
        assert not any(l.startswith(b"+") for l in seen), seen
        assert line.startswith(b"A1 BAD") or line.startswith(b"A1 NO"), line
        assert_usable(c)


def test_100kb_command_line(server, c, bystander):
    with bounded_memory(server):
        c.ok("SELECT INBOX")
        c.send(b'A1 SEARCH TEXT "' + b"x" * 100_000 + b'"\r\n')
        line, seen = tagged(c, b"A1")
        assert line.startswith(b"A1 BAD"), seen
        assert_usable(c)
        c.ok("SEARCH ALL")


def test_10mb_line_without_end_keeps_memory_bounded(server, c, bystander):
    with bounded_memory(server):
        chunk = b"y" * MiB
        c.send(b"A1 NOOP ")
        for _ in range(10):
            c.send(chunk)
        c.send(b"\r\n")
        line, seen = tagged(c, b"A1", timeout=20)
        assert line.startswith(b"A1 BAD"), seen
        assert_usable(c)


def test_deeply_nested_search(server, c, bystander):
    c.ok("SELECT INBOX")
    c.ok("APPEND INBOX ", message("nested"))
    c.send(b"A1 SEARCH " + b"(" * 10_000 + b"ALL" + b")" * 10_000 + b"\r\n")
    line, seen = tagged(c, b"A1")
    assert line.startswith(b"A1 BAD"), seen
    assert_usable(c)
    r = c.ok("SEARCH " + "(" * 5 + "ALL" + ")" * 5)
    assert r.named("SEARCH") == ["SEARCH 1"], r


def test_many_literals_in_one_command(server, c, bystander):
    """Thousands of small literals add up: refused once the command is too large."""
    with bounded_memory(server):
        c.ok("SELECT INBOX")
        piece = b"z" * 50_000
        parts = ["SEARCH"] + [" TEXT ", piece] * 40  # 2 MB in all, over the 1 MiB command limit
        r = c.cmd(*parts)
        assert r.status == "BAD", r.tagged
        assert len(r.continuations) < 40, "every literal of an oversized command was accepted"
        assert_usable(c)


# ---------------------------------------------------------------- sequence sets


def test_sequence_number_zero(server, c, bystander):
    c.ok("APPEND INBOX ", message("zero"))
    c.ok("SELECT INBOX")
    for cmd in ("FETCH 0 (FLAGS)", "STORE 0 +FLAGS (\\Seen)", "FETCH 0:1 (FLAGS)", "UID FETCH 0 (FLAGS)"):
        r = c.cmd(cmd)
        assert r.status == "BAD", f"{cmd}:\n{r}"
    assert_usable(c)


def test_sequence_number_too_large(server, c, bystander):
    c.ok("APPEND INBOX ", message("large"))
    c.ok("SELECT INBOX")
    for cmd in ("FETCH 99999999999 (FLAGS)", "UID FETCH 99999999999 (FLAGS)", "FETCH 1:99999999999 (FLAGS)",
                "SEARCH 99999999999", "FETCH 2 (FLAGS)", "FETCH 1:2 (FLAGS)"):
        r = c.cmd(cmd)
        assert r.status == "BAD", f"{cmd}:\n{r}"
        assert not r.named("FETCH"), r
    # The largest valid UID is fine, and matches nothing.
    r = c.ok("UID FETCH 4294967295 (FLAGS)")
    assert not r.named("FETCH"), r
    assert_usable(c)


def test_star_on_empty_folder(server, c, bystander):
    c.ok("CREATE Empty")
    c.ok("SELECT Empty")
    r = c.cmd("FETCH 1:* (FLAGS)")
    assert r.status == "BAD", f"RFC 9051: '*' in an empty folder is a BAD sequence number:\n{r}"
    r = c.cmd("UID FETCH 1:* (FLAGS)")
    assert r.status == "OK" and not r.named("FETCH"), r
    r = c.cmd("UID STORE 1:* +FLAGS (\\Seen)")
    assert r.status == "OK" and not r.named("FETCH"), r
    r = c.ok("SEARCH ALL")
    assert r.named("SEARCH") == ["SEARCH"], r
    assert_usable(c)


def test_60kb_uid_set(server, c, bystander):
    uids = []
    for i in range(3):
        r = c.ok("APPEND INBOX ", message(f"set {i}"))
        uids.append(int(r.code.split()[2]))
    c.ok("SELECT INBOX")
    members = list(range(1, 2 * 10_900, 2)) + uids
    uid_set = ",".join(str(n) for n in members)
    assert 58_000 < len(uid_set) < 61_000
    with bounded_memory(server):
        started = time.monotonic()
        r = c.cmd(f"UID FETCH {uid_set} (UID)")
        took = time.monotonic() - started
    assert r.status == "OK", r.tagged
    got = sorted(int(re.search(r"UID (\d+)", u).group(1)) for u in r.named("FETCH"))
    assert got == sorted(set(uids)), got
    assert took < 5, f"a 60 KB UID set took {took:.1f}s"
    r = c.cmd(f"UID SEARCH UID {uid_set}")
    assert r.status == "OK" and sorted(int(x) for x in r.named("SEARCH")[0].split()[1:]) == sorted(set(uids)), r
    assert_usable(c)


# ---------------------------------------------------------------- wrong state, unknown commands, garbage


def test_commands_in_the_wrong_state(server, acct):
    with RawIMAP(*server.addr("imaps")) as c:
        for cmd in ("SELECT INBOX", "FETCH 1 (FLAGS)", "LIST \"\" \"*\"", "APPEND INBOX {1+}\r\nx",
                    "ENABLE CONDSTORE", "IDLE", "UID FETCH 1 FLAGS"):
            r = c.cmd(cmd)
            assert r.status == "BAD", f"{cmd} before login:\n{r}"
        c.login(*acct)
        for cmd in ("FETCH 1 (FLAGS)", "STORE 1 +FLAGS (\\Seen)", "SEARCH ALL", "EXPUNGE", "CLOSE",
                    "UNSELECT", "COPY 1 Trash", "MOVE 1 Trash", "UID EXPUNGE 1", "CHECK", "SORT (DATE) UTF-8 ALL"):
            r = c.cmd(cmd)
            assert r.status == "BAD", f"{cmd} without a selected folder:\n{r}"
        for cmd in (f'LOGIN "{acct[0]}" "{acct[1]}"', "AUTHENTICATE PLAIN AGFAYg==", "STARTTLS"):
            r = c.cmd(cmd)
            assert r.status == "BAD", f"{cmd} after login:\n{r}"
        assert_usable(c)
        c.ok("SELECT INBOX")


def test_unknown_command_and_bad_arguments(server, c, bystander):
    c.ok("APPEND INBOX ", message("args"))
    c.ok("SELECT INBOX")
    for cmd in ("FROBNICATE", "FROBNICATE now please", "SELECT", "FETCH", "FETCH 1", "FETCH 1 (NOSUCHITEM)",
                "STORE 1 FLAGS.BOGUS (\\Seen)", "SEARCH NOSUCHKEY", "SEARCH (ALL", "SEARCH ALL)", "LIST \"\"",
                "STATUS INBOX (NOSUCHITEM)", "UID NOSUCH 1", "CREATE", 'LOGIN "a"', "APPEND INBOX (\\Seen"):
        r = c.cmd(cmd)
        assert r.status == "BAD", f"{cmd}:\n{r}"
    assert_usable(c)


def test_garbage_and_nul_bytes(server, c, bystander):
    c.send(b"\x00\x01\x02\xff\xfe garbage \x00\r\n")
    line, seen = tagged(c, b"\x00\x01\x02\xff\xfe")
    assert line.startswith(b"* BAD"), seen
    c.send(b"A1 NO\x00OP\r\n")
    line, seen = tagged(c, b"A1")
    assert line.startswith(b"A1 BAD"), seen
    c.send(b"A2 SELECT IN\x00BOX\r\n")
    line, seen = tagged(c, b"A2")
    assert line.startswith(b"A2 BAD"), seen
    c.send(b"\r\n")
    line, seen = tagged(c, b"*")
    assert line.startswith(b"* BAD"), seen
    c.send(b"A3 \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\r\n")
    line, seen = tagged(c, b"A3")
    assert line.startswith(b"A3 BAD"), seen
    assert_usable(c)
    c.ok("SELECT INBOX")


def test_bad_authenticate_responses(server, acct):
    with RawIMAP(*server.addr("imaps")) as c:
        r = c.cmd("AUTHENTICATE PLAIN !!!not-base64!!!")
        assert r.status == "BAD", r
        r = c.cmd("AUTHENTICATE PLAIN AGFsaWNl")  # no second NUL
        assert r.status == "BAD", r
        r = c.cmd("AUTHENTICATE X-NOSUCH")
        assert r.status in ("NO", "BAD"), r
        assert_usable(c)
        c.login(*acct)


def test_idle_ended_by_something_else(server, c, bystander):
    c.ok("SELECT INBOX")
    c.send(b"I1 IDLE\r\n")
    assert c.read_response().startswith(b"+")
    c.send(b"NOT-DONE\r\n")
    line, seen = tagged(c, b"I1")
    assert line.startswith(b"I1 BAD"), seen
    assert_usable(c)


def test_invalid_mailbox_names(server, c, bystander):
    for name in ('"&Jjo"', '"a&"', '"&ZZZ"'):
        r = c.cmd(f"CREATE {name}")
        assert r.status in ("BAD", "NO"), f"CREATE {name}:\n{r}"
    names = c.ok('LIST "" "*"').named("LIST")
    assert not [n for n in names if "&Jjo" in n or "&ZZZ" in n], names
    assert_usable(c)


def test_starttls_command_injection(server, acct):
    """Commands pipelined after STARTTLS in cleartext must be dropped, not run inside TLS."""
    host, port = server.addr("imap")
    c = RawIMAP(host, port, implicit_tls=False)
    try:
        c.send(b"A1 STARTTLS\r\nA2 CAPABILITY\r\n")
        line = c.read_response()
        assert line.startswith(b"A1 OK"), line
        assert not c.buf, f"the injected command was answered before TLS: {c.buf!r}"
        c.sock = client_tls_context().wrap_socket(c.sock)
        r = c.cmd("NOOP", tag="A3")
        assert r.status == "OK", r
        assert not r.named("CAPABILITY"), f"the injected CAPABILITY was answered inside TLS:\n{r}"
        c.login(*acct)
    finally:
        c.logout()


# ---------------------------------------------------------------- stalled and broken clients


def test_half_a_command_does_not_block_others(server, acct, bystander):
    stalled = server.raw_imap(*acct)
    literal = server.raw_imap(*acct)
    try:
        stalled.send(b"A1 SELECT INB")
        literal.send(b"B1 APPEND INBOX {1000}\r\n")
        assert literal.read_response().startswith(b"+")
        literal.send(b"x" * 10)
        started = time.monotonic()
        with server.raw_imap(*acct) as other:
            other.ok("SELECT INBOX")
            other.ok("APPEND INBOX ", message("while others stall"))
            other.ok("FETCH 1:* (FLAGS)")
        assert time.monotonic() - started < 3, "a stalled client held up another session"
        # The stalled commands complete once the rest arrives.
        stalled.send(b"OX\r\n")
        line, seen = tagged(stalled, b"A1")
        assert line.startswith(b"A1 OK"), seen
    finally:
        stalled.close()
        literal.close()


def test_disconnect_inside_append_literal_stores_nothing(server, acct, bystander):
    c = server.raw_imap(*acct)
    c.send(b"A1 APPEND INBOX {1000}\r\n")
    assert c.read_response().startswith(b"+")
    c.send(b"Subject: partial\r\n\r\n" + b"p" * 400)
    with contextlib.suppress(OSError):
        c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    time.sleep(0.3)
    with server.raw_imap(*acct) as other:
        r = other.ok("STATUS INBOX (MESSAGES)")
        assert r.named("STATUS")[0].endswith("(MESSAGES 0)"), f"a half-sent APPEND was stored:\n{r}"
