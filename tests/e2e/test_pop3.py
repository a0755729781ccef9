"""POP3 on N+110 (STLS) and N+995 (implicit TLS), with poplib and curl."""

from __future__ import annotations

import base64
import poplib
import socket
import subprocess
import time
import uuid

import pytest

from conftest import require_program
from mailroom import PASSWORDS, client_tls_context, make_message, retr_bytes, split_trace, which

ALICE, BOB, CAROL = "alice@example.test", "bob@example.test", "carol@example.test"


def lines_to_bytes(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\r\n" for line in lines)


def load(server, user: str, n: int = 3) -> dict[str, bytes]:
    """Deliver n messages of different sizes; returns token -> sent bytes."""
    sent = {}
    for i in range(n):
        t = uuid.uuid4().hex
        body = f"message {i} {t}\r\n" + "".join(f"body line {j}\r\n" for j in range(1, 4 + i * 5)) \
            + ".starts with a dot\r\n.\r\nend\r\n"
        msg = make_message("sender@remote.test", user, f"pop3 {i} {t}", body)
        server.deliver(user, msg)
        sent[t] = msg
    msgs = server.wait_mailbox(user, n)
    assert len(msgs) == n
    return sent


def token_of(stored: bytes, sent: dict[str, bytes]) -> str:
    hits = [t for t in sent if t.encode() in stored]
    assert len(hits) == 1, stored[:300]
    return hits[0]


def err_text(exc: poplib.error_proto) -> bytes:
    arg = exc.args[0]
    return arg if isinstance(arg, bytes) else str(arg).encode()


# ---------------------------------------------------------------- CAPA / STLS

EXPECTED_CAPA = {"TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "SASL"}


def test_greeting_and_capa(server):
    p = poplib.POP3(*server.addr("pop3"), timeout=30)
    try:
        assert p.getwelcome().startswith(b"+OK")
        caps = p.capa()
        assert "STLS" in caps, caps
        p.stls(client_tls_context())
        caps = p.capa()
        assert EXPECTED_CAPA <= set(caps), caps
        assert "PLAIN" in [m.upper() for m in caps["SASL"]], caps
        assert "STLS" not in caps, "STLS still offered after STLS"
    finally:
        p.quit()


def test_pop3s_capa(server):
    p = poplib.POP3_SSL(*server.addr("pop3s"), context=client_tls_context(), timeout=30)
    try:
        assert p.getwelcome().startswith(b"+OK")
        caps = p.capa()
        assert EXPECTED_CAPA <= set(caps), caps
        assert "STLS" not in caps
    finally:
        p.quit()


def test_login_refused_before_stls(server):
    p = poplib.POP3(*server.addr("pop3"), timeout=30)
    try:
        with pytest.raises(poplib.error_proto) as e:
            p.user(ALICE)
        assert err_text(e.value).startswith(b"-ERR")
        token = base64.b64encode(f"\0{ALICE}\0{PASSWORDS[ALICE]}".encode()).decode()
        with pytest.raises(poplib.error_proto) as e:
            p._shortcmd(f"AUTH PLAIN {token}")
        assert err_text(e.value).startswith(b"-ERR")
        with pytest.raises(poplib.error_proto):
            p.stat()
        # The same connection can still upgrade and then log in.
        p.stls(client_tls_context())
        p.user(ALICE)
        assert p.pass_(PASSWORDS[ALICE]).startswith(b"+OK")
        p.stat()
    finally:
        p.quit()


def test_login_user_pass_and_auth_plain(server):
    p = server.pop3()
    try:
        assert p.user(BOB).startswith(b"+OK")
        assert p.pass_(PASSWORDS[BOB]).startswith(b"+OK")
        p.stat()
    finally:
        p.quit()
    # AUTH PLAIN with an initial response ...
    p = server.pop3(implicit=True)
    try:
        token = base64.b64encode(f"\0{CAROL}\0{PASSWORDS[CAROL]}".encode()).decode()
        assert p._shortcmd(f"AUTH PLAIN {token}").startswith(b"+OK")
        p.stat()
    finally:
        p.quit()
    # ... and through a continuation.
    p = server.pop3()
    try:
        p._putcmd("AUTH PLAIN")
        line, _ = p._getline()
        assert line.startswith(b"+"), line
        token = base64.b64encode(f"\0{ALICE}\0{PASSWORDS[ALICE]}".encode())
        p._putline(token)
        assert p._getresp().startswith(b"+OK")
        p.stat()
    finally:
        p.quit()


def test_wrong_password_is_auth_code(fresh_server):
    p = fresh_server.pop3()
    try:
        p.user(ALICE)
        with pytest.raises(poplib.error_proto) as e:
            p.pass_("wrong")
        assert err_text(e.value).startswith(b"-ERR [AUTH]"), err_text(e.value)
    finally:
        p.close()
    p = fresh_server.pop3(implicit=True)
    try:
        token = base64.b64encode(f"\0{ALICE}\0wrong".encode()).decode()
        with pytest.raises(poplib.error_proto) as e:
            p._shortcmd(f"AUTH PLAIN {token}")
        assert err_text(e.value).startswith(b"-ERR [AUTH]"), err_text(e.value)
    finally:
        p.close()


# ---------------------------------------------------------------- transaction state

def test_stat_list_uidl_retr(fresh_server):
    sent = load(fresh_server, BOB, 3)
    p = fresh_server.pop3(BOB)
    try:
        count, total = p.stat()
        assert count == 3
        resp, listing, _ = p.list()
        assert resp.startswith(b"+OK")
        sizes = {int(a): int(b) for a, b in (line.split() for line in listing)}
        assert sorted(sizes) == [1, 2, 3]
        assert sum(sizes.values()) == total
        resp, uidl, _ = p.uidl()
        uids = {int(a): b for a, b in (line.split() for line in uidl)}
        assert sorted(uids) == [1, 2, 3]
        assert len(set(uids.values())) == 3
        for uid in uids.values():
            assert 1 <= len(uid) <= 70 and all(0x21 <= c <= 0x7E for c in uid), uid
        seen = set()
        for n in (1, 2, 3):
            stored = retr_bytes(p, n)
            assert len(stored) == sizes[n], "LIST size differs from RETR octets"
            assert p.list(n).split() == [b"+OK", str(n).encode(), str(sizes[n]).encode()]
            assert p.uidl(n).split() == [b"+OK", str(n).encode(), uids[n]]
            t = token_of(stored, sent)
            sender, _, rest = split_trace(stored)
            assert sender == b"sender@remote.test"
            assert rest == sent[t]
            seen.add(t)
        assert seen == set(sent)
        for bad in ("RETR 4", "RETR 0", "LIST 4", "UIDL 9", "DELE 4", "RETR x"):
            with pytest.raises(poplib.error_proto):
                p._shortcmd(bad)
        assert p.noop().startswith(b"+OK")
    finally:
        p.quit()
    # UIDs are stable across sessions.
    p = fresh_server.pop3(BOB, implicit=True)
    try:
        _, uidl2, _ = p.uidl()
        assert {int(a): b for a, b in (line.split() for line in uidl2)} == uids
    finally:
        p.quit()


def test_top(fresh_server):
    load(fresh_server, CAROL, 1)
    p = fresh_server.pop3(CAROL)
    try:
        stored = retr_bytes(p, 1)
        head_end = stored.index(b"\r\n\r\n") + 4
        _, lines, _ = p.top(1, 0)
        assert lines_to_bytes(lines) == stored[:head_end]
        _, lines, _ = p.top(1, 2)
        body_lines = stored[head_end:].split(b"\r\n")
        assert lines_to_bytes(lines) == stored[:head_end] + body_lines[0] + b"\r\n" + body_lines[1] + b"\r\n"
        _, lines, _ = p.top(1, 10_000)
        assert lines_to_bytes(lines) == stored
    finally:
        p.quit()


def uid_map(p: poplib.POP3) -> dict[int, bytes]:
    return {int(a): b for a, b in (line.split() for line in p.uidl()[1])}


def test_dele_rset_and_quit_semantics(fresh_server):
    load(fresh_server, ALICE, 3)
    p = fresh_server.pop3(ALICE)
    uids = uid_map(p)
    sizes = {int(a): int(b) for a, b in (line.split() for line in p.list()[1])}
    _, total = p.stat()

    assert p.dele(1).startswith(b"+OK")
    assert p.stat() == (2, total - sizes[1])
    for cmd in ("RETR 1", "LIST 1", "TOP 1 0", "DELE 1", "UIDL 1"):
        with pytest.raises(poplib.error_proto):
            p._shortcmd(cmd)
    assert [int(line.split()[0]) for line in p.list()[1]] == [2, 3]
    assert p.rset().startswith(b"+OK")
    assert p.stat() == (3, total)
    retr_bytes(p, 1)

    # Marked, then the connection drops without QUIT: nothing is deleted.
    p.dele(2)
    p.sock.shutdown(socket.SHUT_RDWR)
    p.sock.close()

    p = _login_retry(fresh_server, ALICE)
    assert p.stat() == (3, total)
    assert uid_map(p) == uids
    p.dele(2)
    assert p.quit().startswith(b"+OK")

    p = _login_retry(fresh_server, ALICE)
    try:
        assert p.stat() == (2, total - sizes[2])
        assert sorted(uid_map(p).values()) == sorted([uids[1], uids[3]])
    finally:
        p.quit()


def _login_retry(server, user, timeout=10.0) -> poplib.POP3:
    """The previous session's lock may take a moment to go after a drop."""
    deadline = time.monotonic() + timeout
    while True:
        p = server.pop3()
        p.user(user)
        try:
            p.pass_(PASSWORDS[user])
            return p
        except poplib.error_proto as e:
            p.close()
            if b"[IN-USE]" not in err_text(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_maildrop_lock(fresh_server):
    load(fresh_server, BOB, 1)
    a = fresh_server.pop3(BOB)
    try:
        b = fresh_server.pop3(implicit=True)
        b.user(BOB)
        with pytest.raises(poplib.error_proto) as e:
            b.pass_(PASSWORDS[BOB])
        assert err_text(e.value).startswith(b"-ERR [IN-USE]"), err_text(e.value)
        b.close()
        # Another user's maildrop is not affected.
        c = fresh_server.pop3(CAROL)
        c.quit()
        # The holder still works.
        assert a.stat()[0] == 1
    finally:
        a.quit()
    b = fresh_server.pop3(BOB)
    assert b.stat()[0] == 1
    b.quit()


def test_pipelined_commands(fresh_server):
    load(fresh_server, CAROL, 2)
    p = fresh_server.pop3(CAROL)
    try:
        p.sock.sendall(b"STAT\r\nNOOP\r\nUIDL 2\r\nLIST\r\nDELE 1\r\nSTAT\r\n")
        assert p._getresp().startswith(b"+OK 2 ")
        assert p._getresp().startswith(b"+OK")
        assert p._getresp().startswith(b"+OK 2 ")
        resp, lines, _ = p._getlongresp()
        assert resp.startswith(b"+OK") and len(lines) == 2
        assert p._getresp().startswith(b"+OK")
        assert p._getresp().startswith(b"+OK 1 ")
        p.rset()
    finally:
        p.quit()


# ---------------------------------------------------------------- curl

def _curl(url: str, user: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["curl", "-s", "-S", "-k", "--max-time", "30", "-u", f"{user}:{PASSWORDS[user]}", *extra, url],
        capture_output=True, timeout=60)


def test_curl_retr(fresh_server):
    require_program("curl")
    sent = load(fresh_server, ALICE, 1)
    [msg] = sent.values()
    host, port = fresh_server.addr("pop3")
    res = _curl(f"pop3://{host}:{port}/1", ALICE, "--ssl-reqd")
    assert res.returncode == 0, res.stderr
    assert split_trace(res.stdout)[2] == msg

    host, port = fresh_server.addr("pop3s")
    res2 = _curl(f"pop3s://{host}:{port}/1", ALICE)
    assert res2.returncode == 0, res2.stderr
    assert res2.stdout == res.stdout

    # Listing: "1 <size>" where size is what RETR returned.
    res3 = _curl(f"pop3s://{host}:{port}/", ALICE)
    assert res3.returncode == 0, res3.stderr
    assert res3.stdout == f"1 {len(res.stdout)}\r\n".encode()


def test_curl_without_tls_cannot_log_in(fresh_server):
    require_program("curl")
    load(fresh_server, ALICE, 1)
    host, port = fresh_server.addr("pop3")
    res = _curl(f"pop3://{host}:{port}/1", ALICE)  # no --ssl-reqd: cleartext
    assert res.returncode != 0
    assert b"Return-Path" not in res.stdout
