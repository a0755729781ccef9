"""Inbound (MX) delivery on port N+25: no AUTH, local recipients only."""

from __future__ import annotations

import uuid

import pytest

from mailroom import QUEUED_RE, make_message, retr_all, split_trace

ALICE, BOB, CAROL = "alice@example.test", "bob@example.test", "carol@example.test"
DAVE = "dave@other.test"
SENDER = "sender@remote.test"


@pytest.fixture(scope="module")
def server(server_factory):
    srv = server_factory(start=False)
    srv.cli("alias", "add", "sales@example.test", ALICE, BOB)
    srv.cli("list", "add", "team@example.test")
    srv.cli("list", "member-add", "team@example.test", BOB)
    srv.cli("list", "member-add", "team@example.test", CAROL)
    srv.cli("domain", "add", "other.test")
    srv.cli("account", "add", DAVE, "--password", "dave-pw-4")
    srv.cli("domain", "catch-all", "other.test", DAVE)
    return srv.start()


def tok() -> str:
    return uuid.uuid4().hex


def only_with(server, user: str, token: str, password: str | None = None, expect: int = 1) -> list[bytes]:
    import time
    deadline = time.monotonic() + 10
    while True:
        p = server.pop3(user, password)
        try:
            hits = [m for m in retr_all(p) if token.encode() in m]
        finally:
            p.quit()
        if len(hits) >= expect or time.monotonic() > deadline:
            assert len(hits) == expect, f"{user}: expected {expect} message(s) with {token}, found {len(hits)}"
            return hits
        time.sleep(0.1)


def send(server, sender: str, rcpts: list[str], message: bytes, mail_params: str = "") -> str:
    with server.smtp("smtp") as c:
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<{sender}>{mail_params}")
        assert r.code == 250, r
        for rcpt in rcpts:
            r = c.cmd(f"RCPT TO:<{rcpt}>")
            assert r.code == 250, r
        r = c.data(message)
        m = QUEUED_RE.match(r.lines[0])
        assert m, f"unexpected DATA reply: {r}"
        c.quit()
        return m.group(1)


def test_unauthenticated_delivery_to_local_user(server):
    t = tok()
    msg = make_message(SENDER, ALICE, f"mx {t}", f"plain delivery {t}\r\n")
    queue_id = send(server, SENDER, [ALICE], msg)
    [stored] = only_with(server, ALICE, t)
    sender, received, rest = split_trace(stored)
    assert sender == SENDER.encode()
    assert received.startswith(b"Received: ")
    assert rest == msg
    assert queue_id


def test_session_basics(server):
    with server.smtp("smtp") as c:
        assert c.greeting.code == 220
        assert c.cmd("HELO client.test").code == 250
        assert c.cmd("NOOP").code == 250
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.cmd("RSET").code == 250
        # RSET dropped the transaction.
        assert c.cmd("DATA").code == 503
        assert c.cmd(f"RCPT TO:<{ALICE}>").startswith("503 5.5.1")
        # A second MAIL inside a transaction is a sequence error.
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 503
        r = c.cmd("QUIT")
        assert r.code == 221, r
        assert c.is_closed()


def test_queue_ids_differ(server):
    ids = {send(server, SENDER, [ALICE], make_message(SENDER, ALICE, "id", tok())) for _ in range(3)}
    assert len(ids) == 3, ids


def test_null_sender_is_accepted(server):
    t = tok()
    msg = make_message("mailer-daemon@remote.test", BOB, f"bounce {t}", t)
    send(server, "", [BOB], msg)
    [stored] = only_with(server, BOB, t)
    assert stored.startswith(b"Return-Path: <>\r\n")
    assert split_trace(stored)[2] == msg


def test_unknown_local_user_is_550_511_at_rcpt(server):
    with server.smtp("smtp") as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        r = c.cmd("RCPT TO:<nobody@example.test>")
        assert r.startswith("550 5.1.1"), r
        # The transaction is still alive; a valid recipient can follow.
        assert c.cmd(f"RCPT TO:<{CAROL}>").code == 250
        t = tok()
        msg = make_message(SENDER, CAROL, t, t)
        assert c.data(msg).startswith("250 2.0.0 Ok: queued as ")
    assert split_trace(only_with(server, CAROL, t)[0])[2] == msg


def test_unknown_user_only_transaction_has_no_recipients(server):
    with server.smtp("smtp") as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert c.cmd("RCPT TO:<ghost@example.test>").startswith("550 5.1.1")
        r = c.cmd("DATA")
        assert r.code in (503, 554), f"DATA without any accepted recipient: {r}"


def test_domain_part_is_case_insensitive(server):
    t = tok()
    msg = make_message(SENDER, ALICE, t, t)
    send(server, SENDER, ["alice@EXAMPLE.Test"], msg)
    assert split_trace(only_with(server, ALICE, t)[0])[2] == msg


def test_postmaster_exists(server):
    with server.smtp("smtp") as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        r = c.cmd("RCPT TO:<postmaster@example.test>")
        assert r.code == 250, r


def test_alias_delivers_to_every_target(server):
    t = tok()
    msg = make_message(SENDER, "sales@example.test", f"alias {t}", t)
    send(server, SENDER, ["sales@example.test"], msg)
    for user in (ALICE, BOB):
        [stored] = only_with(server, user, t)
        assert split_trace(stored)[2] == msg
    only_with(server, CAROL, t, expect=0)


def test_list_delivers_to_every_member(server):
    t = tok()
    msg = make_message(SENDER, "team@example.test", f"list {t}", t)
    send(server, SENDER, ["team@example.test"], msg)
    for user in (BOB, CAROL):
        [stored] = only_with(server, user, t)
        assert split_trace(stored)[2] == msg
    only_with(server, ALICE, t, expect=0)


def test_catch_all_delivers_unknown_local_parts(server):
    t = tok()
    msg = make_message(SENDER, "whoever@other.test", f"catch-all {t}", t)
    send(server, SENDER, ["whoever@other.test"], msg)
    [stored] = only_with(server, DAVE, t, password="dave-pw-4")
    assert split_trace(stored)[2] == msg


def test_bytes_are_preserved_exactly(server):
    t = tok()
    long_line = b"L" * 990
    msg = (
        b"From: <sender@remote.test>\r\n"
        b"To: <alice@example.test>\r\n"
        b"Subject: exact bytes " + t.encode() + b"\r\n"
        b"X-Folded: first part\r\n"
        b"\tsecond part\r\n"
        b"  third part\r\n"
        b"Received: from fake.test by fake.test; a header the client wrote\r\n"
        b"\r\n"
        b".\r\n"
        b"..\r\n"
        b".leading dot\r\n"
        b"..two leading dots\r\n"
        b"From the start of a line\r\n"
        b"trailing spaces   \r\n"
        b"\ttab first\r\n"
        b"\r\n"
        b"\r\n"
        + long_line + b"\r\n"
        b"=3D quoted-printable looking =\r\n"
        b"end " + t.encode() + b"\r\n"
    )
    send(server, SENDER, [ALICE], msg)
    [stored] = only_with(server, ALICE, t)
    sender, received, rest = split_trace(stored)
    assert rest == msg


def test_8bit_and_utf8(server):
    t = tok()
    utf8_sender = "jösé@remote.test"
    body = "Grüße aus Köln — 日本語のテキスト — emoji 📬\r\n".encode()
    msg = (
        f"From: José <{utf8_sender}>\r\nTo: <{ALICE}>\r\nSubject: Ünïcödé {t}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + body
    with server.smtp("smtp") as c:
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<{utf8_sender}> BODY=8BITMIME SMTPUTF8".encode())
        assert r.code == 250, r
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.data(msg).startswith("250 2.0.0")
    [stored] = only_with(server, ALICE, t)
    sender, _, rest = split_trace(stored)
    assert sender == utf8_sender.encode()
    assert rest == msg

    # Arbitrary 8-bit octets (latin-1 here) are stored as they came.
    t2 = tok()
    latin = (f"Subject: latin-1 {t2}\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n").encode() \
        + "Caf\xe9 cr\xe8me br\xfbl\xe9e \xff\x80\x81\r\n".encode("latin-1")
    with server.smtp("smtp") as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}> BODY=8BITMIME").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.data(latin).startswith("250 2.0.0")
    [stored] = only_with(server, ALICE, t2)
    assert split_trace(stored)[2] == latin


def test_pipelined_transaction(server):
    t = tok()
    msg = make_message(SENDER, BOB, f"pipelined {t}", t)
    with server.smtp("smtp") as c:
        c.ehlo()
        c.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{BOB}>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<{CAROL}>\r\nDATA\r\n".encode())
        assert c.reply().code == 250
        assert c.reply().code == 250
        assert c.reply().startswith("550 5.1.1")
        assert c.reply().code == 250
        assert c.reply().code == 354
        c.send(msg + b".\r\nNOOP\r\n")
        assert c.reply().startswith("250 2.0.0 Ok: queued as ")
        assert c.reply().code == 250
    for user in (BOB, CAROL):
        assert split_trace(only_with(server, user, t)[0])[2] == msg


def test_bdat_chunking(server):
    t = tok()
    # BDAT carries raw bytes: no dot-stuffing, and a lone "." line is content.
    chunks = [
        f"From: <{SENDER}>\r\nTo: <{CAROL}>\r\nSubject: bdat {t}\r\n\r\n".encode(),
        b"first chunk\r\n.\r\n..not unstuffed\r\n",
        b"middle\r\nsplit li",
        b"ne across chunks\r\nlast " + t.encode() + b"\r\n",
    ]
    msg = b"".join(chunks)
    with server.smtp("smtp") as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert c.cmd(f"RCPT TO:<{CAROL}>").code == 250
        for chunk in chunks[:-1]:
            c.send(f"BDAT {len(chunk)}\r\n".encode() + chunk)
            r = c.reply()
            assert r.code == 250, r
        c.send(f"BDAT {len(chunks[-1])} LAST\r\n".encode() + chunks[-1])
        r = c.reply()
        assert QUEUED_RE.match(r.lines[0]), r
    [stored] = only_with(server, CAROL, t)
    sender, _, rest = split_trace(stored)
    assert sender == SENDER.encode()
    assert rest == msg


def test_bdat_pipelined_in_one_write(server):
    t = tok()
    part1 = f"Subject: bdat pipelined {t}\r\n\r\n".encode()
    part2 = b"body line\r\n"
    msg = part1 + part2
    with server.smtp("smtp") as c:
        c.ehlo()
        c.send(
            f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{BOB}>\r\nBDAT {len(part1)}\r\n".encode() + part1
            + f"BDAT {len(part2)} LAST\r\n".encode() + part2
        )
        assert c.reply().code == 250
        assert c.reply().code == 250
        assert c.reply().code == 250
        assert QUEUED_RE.match(c.reply().lines[0])
    assert split_trace(only_with(server, BOB, t)[0])[2] == msg


def test_catch_all_clear(server):
    # Last in the module: it restarts the server.
    server.stop()
    server.cli("domain", "catch-all", "other.test", "--clear")
    server.start()
    with server.smtp("smtp") as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert c.cmd("RCPT TO:<whoever@other.test>").startswith("550 5.1.1")
        assert c.cmd(f"RCPT TO:<{DAVE}>").code == 250
