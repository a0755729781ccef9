"""IMAP hardening: hostile FETCH item lists, MIME part bombs, big literals
before login, MULTIAPPEND size and the quota at delivery.

Every memory case starts a server of its own and asserts a bound on that
process's peak (VmHWM) or resident (VmRSS) memory, never a timing; every
case also checks that the client still gets the right bytes."""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time

import pytest

from mailroom import RawIMAP, make_message, wait_for

MiB = 1024 * 1024


@pytest.fixture
def own_server(server_factory):
    """A server of its own, so its peak memory is this test's alone."""
    return server_factory()


def big_message(size: int, token: str) -> bytes:
    """A plain text message of about `size` bytes with lines that all differ."""
    head = (
        f"From: sender@remote.test\r\nTo: alice@example.test\r\nSubject: big {token}\r\n"
        f"Message-ID: <{token}@remote.test>\r\n\r\n"
    ).encode()
    lines = []
    n = 0
    total = len(head)
    while total < size:
        line = f"{token} line {n:08d} ".encode() + b"x" * 60 + b"\r\n"
        lines.append(line)
        total += len(line)
        n += 1
    return head + b"".join(lines)


def login(srv, user: str = "alice@example.test") -> RawIMAP:
    return srv.raw_imap(user)


def read_fetch_streaming(c: RawIMAP, tag: str, expect: bytes) -> tuple[str, int]:
    """Reads the responses to `tag`, comparing every literal with `expect`
    piece by piece (so the test itself never holds the whole reply); returns
    the tagged line and how many literals matched."""
    want_digest = hashlib.sha256(expect).hexdigest()
    matched = 0
    prefix = tag.encode() + b" "
    while True:
        first = line = c.read_line()
        while (m := re.search(rb"\{(\d+)\}$", line)) is not None:
            n = int(m.group(1))
            h = hashlib.sha256()
            left = n
            while left:
                piece = c.read_exact(min(left, 1 << 20))
                h.update(piece)
                left -= len(piece)
            assert n == len(expect) and h.hexdigest() == want_digest, f"literal {matched + 1} differs ({n} bytes)"
            matched += 1
            line = c.read_line()
        if first.startswith(prefix):
            return first[len(prefix):].decode(), matched
        assert first.startswith(b"* "), first[:200]


# ---------------------------------------------------------------- FETCH item multiplication


def test_fetch_of_one_body_forty_times_streams_with_bounded_memory(own_server):
    """FETCH 1 (BODY.PEEK[] x40) of a 5 MB message: 40 correct copies, and the
    server's peak memory grows by far less than 40 x 5 MB."""
    body = big_message(5 * MiB, "fetch40")
    with login(own_server) as c:
        c.ok("SELECT INBOX")
        c.ok("APPEND INBOX ", body)
        c.ok("NOOP")
        hwm_before = own_server.status_field("VmHWM")
        tag = c.next_tag()
        items = " ".join(["BODY.PEEK[]"] * 40)
        c.send(f"{tag} FETCH 1 ({items})\r\n".encode())
        tagged, matched = read_fetch_streaming(c, tag, body)
        assert tagged.startswith("OK"), tagged
        assert matched == 40
        grew = own_server.status_field("VmHWM") - hwm_before
        print(f"\nFETCH 40 x 5 MB: VmHWM grew {grew / MiB:.1f} MiB")
        assert grew < 60 * MiB, f"VmHWM grew by {grew / MiB:.1f} MiB for one FETCH"
        # Sections other than the whole message come out right too.
        r = c.ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)] RFC822.SIZE)")
        assert "Subject: big fetch40" in r.untagged[0] and f"RFC822.SIZE {len(body)}" in r.untagged[0], r


def test_fetch_over_the_item_limit_is_bad_and_the_session_goes_on(server):
    with login(server) as c:
        c.ok("SELECT INBOX")
        c.ok("APPEND INBOX ", make_message("a@remote.test", "alice@example.test", "limit", "x\r\n"))
        c.ok("NOOP")
        r = c.cmd("FETCH 1 (" + " ".join(["BODY.PEEK[]"] * 65) + ")")
        assert r.status == "BAD", r
        assert "64" in r.tagged and "FETCH" in r.tagged, r.tagged
        assert not r.named("FETCH"), "no partial answer before the refusal"
        r = c.ok("FETCH 1 (" + " ".join(["FLAGS"] * 64) + ")")
        assert r.named("FETCH"), r
        c.ok("NOOP")


# ---------------------------------------------------------------- MIME part bomb


def test_mime_part_bomb_answers_with_bounded_memory_and_stays_readable(own_server):
    """A 10 MB message of 1,000,000 empty parts: BODYSTRUCTURE and ENVELOPE
    answer, the server's memory stays bounded, and BODY[] returns every byte."""
    head = (
        b"From: sender@remote.test\r\nTo: alice@example.test\r\nSubject: part bomb\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    )
    body = head + b"--b\r\n\r\n" * 1_000_000 + b"--b\r\n\r\nneedle-at-the-end\r\n--b--\r\n"
    with login(own_server) as c:
        c.ok("SELECT INBOX")
        c.ok("APPEND INBOX ", body)
        c.ok("NOOP")
        hwm_before = own_server.status_field("VmHWM")
        c.sock.settimeout(60)
        r = c.ok("FETCH 1 (BODYSTRUCTURE ENVELOPE)")
        grew = own_server.status_field("VmHWM") - hwm_before
        print(f"\npart bomb: VmHWM grew {grew / MiB:.1f} MiB")
        line = r.untagged[0]
        assert "part bomb" in line, line[:500]
        assert len(line) < 1 * MiB, f"BODYSTRUCTURE of {len(line)} bytes"
        assert grew < 40 * MiB, f"VmHWM grew by {grew / MiB:.1f} MiB for one BODYSTRUCTURE"
        tag = c.next_tag()
        c.send(f"{tag} FETCH 1 (BODY.PEEK[])\r\n".encode())
        tagged, matched = read_fetch_streaming(c, tag, body)
        assert tagged.startswith("OK") and matched == 1, tagged
        # SEARCH TEXT reads the same message: bounded too, and every word found.
        hwm_before = own_server.status_field("VmHWM")
        r = c.ok("SEARCH TEXT needle-at-the-end")
        grew = own_server.status_field("VmHWM") - hwm_before
        print(f"part bomb SEARCH TEXT: VmHWM grew {grew / MiB:.1f} MiB")
        assert r.named("SEARCH") == ["SEARCH 1"], r
        assert grew < 40 * MiB, f"VmHWM grew by {grew / MiB:.1f} MiB for one SEARCH TEXT"


# ---------------------------------------------------------------- literals before login


def _announce_and_stream(host: str, port: int, announce: bytes, size: int, out: dict, key: int) -> None:
    """Connects in clear text, announces a literal before logging in, streams
    `size` bytes (stopping if the server closes), and records what came back."""
    s = socket.create_connection((host, port), timeout=30)
    got = b""
    try:
        got += s.recv(4096)  # greeting
        s.sendall(announce)
        chunk = b"x" * 65536
        sent = 0
        s.settimeout(0.0)
        while sent < size:
            try:
                got += s.recv(4096)
            except BlockingIOError:
                pass
            except OSError:
                break
            try:
                n = s.send(chunk[: min(len(chunk), size - sent)])
                sent += n
            except BlockingIOError:
                time.sleep(0.01)
            except OSError:
                break
        s.settimeout(5)
        try:
            while True:
                data = s.recv(4096)
                if not data:
                    break
                got += data
        except OSError:
            pass
    finally:
        s.close()
        out[key] = got


def test_big_literals_before_login_end_the_session_without_reading_them(own_server):
    """8 clients announce a 19 MB non-synchronising APPEND literal before
    logging in and stream it: each is told BYE at once, and the server's
    memory does not grow by the bodies."""
    host, port = own_server.addr("imap")
    rss_before = own_server.status_field("VmHWM")
    out: dict = {}
    threads = [
        threading.Thread(
            target=_announce_and_stream,
            args=(host, port, b"a APPEND INBOX {19000000+}\r\n", 19_000_000, out, i),
        )
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    grew = own_server.status_field("VmHWM") - rss_before
    print(f"\n8 x 19 MB before login: VmHWM grew {grew / MiB:.1f} MiB")
    for i in range(8):
        assert b"* BYE" in out[i], f"client {i} got {out[i][-300:]!r}"
    assert grew < 20 * MiB, f"VmHWM grew by {grew / MiB:.1f} MiB"


def test_big_synchronising_literal_before_login_is_refused_before_it_is_sent(own_server):
    host, port = own_server.addr("imap")
    with socket.create_connection((host, port), timeout=10) as s:
        s.recv(4096)
        s.sendall(b"a APPEND INBOX {19000000}\r\n")
        reply = s.recv(4096)
        assert reply.startswith(b"a BAD"), reply
        assert b"log" in reply.lower(), reply
        # Small literals still work before login (a LOGIN with literals).
        s.sendall(b"b LOGIN {18}\r\n")
        assert s.recv(4096).startswith(b"+")
        s.sendall(b"alice@example.test {10}\r\n")
        assert s.recv(4096).startswith(b"+")
        s.sendall(b"alice-pw-1\r\n")
        assert s.recv(4096).startswith((b"b OK", b"b NO")), "the small literals were read as a LOGIN"


# ---------------------------------------------------------------- MULTIAPPEND and quota


def literals(one: bytes, n: int) -> list:
    """`n` copies of a message as MULTIAPPEND literal parts, separated by spaces."""
    parts: list = []
    for i in range(n):
        if i:
            parts.append(" ")
        parts.append(one)
    return parts


def test_multiappend_over_the_message_limit_is_refused_whole(server_factory):
    srv = server_factory(settings={"imap_max_append_messages": 10})
    one = make_message("a@remote.test", "alice@example.test", "multi", "x\r\n")
    with login(srv) as c:
        before = c.ok("STATUS INBOX (MESSAGES)").untagged[0]
        r = c.cmd("APPEND INBOX ", *literals(one, 11), literal_plus=True)
        assert r.status == "NO", r
        assert "10" in r.tagged, r.tagged
        assert c.ok("STATUS INBOX (MESSAGES)").untagged[0] == before, "nothing of a refused MULTIAPPEND is stored"
        r = c.ok("APPEND INBOX ", *literals(one, 10), literal_plus=True)
        assert r.code and r.code.startswith("APPENDUID"), r


def test_two_sessions_cannot_both_fill_the_last_of_a_quota(own_server):
    """Both RCPTs pass while the mailbox is empty; the second DATA would take
    the account over its quota and is refused with 552 5.2.2."""
    user, password = own_server.new_account(quota="100K")
    msgs = [make_message("a@remote.test", user, f"half {i}", ("y" * 70 + "\r\n") * 850) for i in range(2)]
    sessions = [own_server.smtp("smtp") for _ in range(2)]
    for s in sessions:
        s.ehlo()
        assert s.cmd("MAIL FROM:<a@remote.test>").code == 250
        r = s.cmd(f"RCPT TO:<{user}>")
        assert r.code == 250, r
    first = sessions[0].data(msgs[0])
    assert first.code == 250, first
    second = sessions[1].data(msgs[1])
    assert second.code == 552 and "5.2.2" in str(second), second
    for s in sessions:
        s.quit()
    with own_server.raw_imap(user, password) as c:
        r = c.ok("STATUS INBOX (MESSAGES)")
        assert "MESSAGES 1" in r.untagged[0], r
        r = c.ok("GETQUOTAROOT INBOX")
        used = int(re.search(r"STORAGE (\d+)", " ".join(r.untagged)).group(1))
        assert used <= 100, r
    files = [f for f in (own_server.data_dir / "messages").glob("*/*.eml")]
    assert len(files) == 1, f"the refused message left files behind: {files}"


# ---------------------------------------------------------------- large APPENDs after login


def test_large_appends_are_spooled_to_disk_not_held_in_memory(own_server):
    """4 logged-in clients APPEND 19 MB each at once: the server's peak memory
    grows by far less than the 76 MB of bodies, and every message is stored
    byte for byte. A first round of 2 MB APPENDs warms the server up (worker
    threads for the file writes), so what is measured is what grows with
    the size of the bodies."""
    results: dict = {}

    def append(i: int, body: bytes) -> None:
        with login(own_server) as c:
            results[i] = c.cmd("APPEND INBOX ", body, literal_plus=(i % 2 == 0))

    def round_of(bodies: list[bytes]) -> None:
        results.clear()
        threads = [threading.Thread(target=append, args=(i, b)) for i, b in enumerate(bodies)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for i in range(len(bodies)):
            assert results[i].status == "OK", results[i]

    round_of([big_message(2_000_000, f"warm{i}") for i in range(4)])
    bodies = [big_message(19_000_000, f"spool{i}") for i in range(4)]
    hwm_before = own_server.status_field("VmHWM")
    round_of(bodies)
    grew = own_server.status_field("VmHWM") - hwm_before
    print(f"\n4 x 19 MB APPEND: VmHWM grew {grew / MiB:.1f} MiB")
    assert grew < 20 * MiB, f"VmHWM grew by {grew / MiB:.1f} MiB"
    with login(own_server) as c:
        c.ok("EXAMINE INBOX")
        for i in range(4):
            r = c.ok(f"SEARCH SUBJECT spool{i}")
            (n,) = r.named("SEARCH")[0].split()[1:]
            tag = c.next_tag()
            c.send(f"{tag} FETCH {n} (BODY.PEEK[])\r\n".encode())
            tagged, matched = read_fetch_streaming(c, tag, bodies[i])
            assert tagged.startswith("OK") and matched == 1, tagged
    leftovers = list((own_server.data_dir / "messages" / "tmp").iterdir())
    assert not leftovers, f"spool files left behind: {leftovers}"


def test_a_spooled_append_cut_off_leaves_no_file(own_server):
    tmp = own_server.data_dir / "messages" / "tmp"
    c = login(own_server)
    c.send(b"A1 APPEND INBOX {5000000+}\r\n" + b"x" * 2_000_000)
    time.sleep(0.5)
    c.close()
    wait_for(lambda: not list(tmp.iterdir()), timeout=10, what="the spool file to go")
    with login(own_server) as again:
        r = again.ok("STATUS INBOX (MESSAGES)")
        assert "MESSAGES 0" in r.untagged[0], r
