"""IMAP on N+143 (STARTTLS) and N+993 (implicit TLS): every command, with the
exact responses RFC 3501 / RFC 9051 and the extensions the server announces
call for. Most tests use an account of their own (`acct`), so no test sees
another's messages or folders."""

from __future__ import annotations

import base64
import imaplib
import re
import time
import uuid
import zlib
from datetime import datetime, timezone

import pytest

from mailroom import (ConnectionClosed, RawIMAP, client_tls_context, fetch_items, imap_quote, parse_imap,
                      seqset_values)

ALICE = "alice@example.test"

AUTHENTICATED_CAPS = {
    "IMAP4REV1", "IMAP4REV2", "SASL-IR", "LITERAL+", "ENABLE", "ID", "IDLE", "NAMESPACE", "UIDPLUS", "MOVE",
    "UNSELECT", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CREATE-SPECIAL-USE", "STATUS=SIZE",
    "ESEARCH", "WITHIN", "CONDSTORE", "QRESYNC", "QUOTA", "QUOTA=RES-STORAGE", "SORT", "SORT=DISPLAY",
    "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES", "BINARY", "MULTIAPPEND", "UTF8=ACCEPT", "COMPRESS=DEFLATE",
}
DEFAULT_FOLDERS = {"INBOX": None, "Sent": "\\sent", "Drafts": "\\drafts", "Junk": "\\junk", "Trash": "\\trash",
                   "Archive": "\\archive"}
SPECIAL_USE_ATTRS = {"\\sent", "\\drafts", "\\junk", "\\trash", "\\archive", "\\all", "\\flagged"}
RUSSIAN_SENT = "Отправленные"
RUSSIAN_SENT_MUTF7 = "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"


# ---------------------------------------------------------------- helpers


def tok() -> str:
    return uuid.uuid4().hex[:10]


def msg(subject: str = "Hello", body: str | bytes = "Hello there.\r\n", frm: str = "Sender <sender@remote.test>",
        to: str = "Alice <alice@example.test>", date: str = "Mon, 02 Mar 2026 12:00:00 +0000",
        headers: str = "", msgid: str | None = None) -> bytes:
    if isinstance(body, str):
        body = body.encode()
    msgid = msgid or f"<{tok()}@client.test>"
    head = f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: {msgid}\r\n{headers}"
    return head.encode() + b"\r\n" + body


def append(c: RawIMAP, folder: str, data: bytes, flags: str | None = None, date: str | None = None) -> int:
    """APPEND; returns the new UID from APPENDUID."""
    args = f"APPEND {folder} "
    if flags is not None:
        args += f"({flags}) "
    if date is not None:
        args += f'"{date}" '
    r = c.ok(args, data)
    m = re.fullmatch(r"APPENDUID (\d+) (\d+)", r.code or "")
    assert m, f"no APPENDUID in the APPEND response:\n{r}"
    return int(m.group(2))


def caps_of(line: str) -> set[str]:
    """Capability names of a `CAPABILITY ...` untagged response or `[CAPABILITY ...]` code."""
    words = line.split()
    assert words[0].upper() == "CAPABILITY", line
    return {w.upper() for w in words[1:]}


def one(lines: list, what: str):
    assert len(lines) == 1, f"expected exactly one {what} response, got {lines}"
    return lines[0]


def fetches(r) -> dict[int, dict]:
    """Untagged FETCH responses of a command: seq -> items (merged)."""
    out: dict[int, dict] = {}
    for raw in r.raw:
        parts = raw.split(b" ", 2)
        if len(parts) > 1 and parts[0].isdigit() and parts[1].upper() == b"FETCH":
            n, items = fetch_items(raw)
            out.setdefault(n, {}).update(items)
    return out


def flags_of(items: dict) -> set[str]:
    return {str(f) for f in items["FLAGS"]} - {"\\Recent"}


def search(c: RawIMAP, criteria: str | tuple, uid: bool = False) -> list[int]:
    parts = criteria if isinstance(criteria, tuple) else (criteria,)
    r = c.ok(("UID SEARCH " if uid else "SEARCH ") + parts[0], *parts[1:])
    line = one(r.named("SEARCH"), "SEARCH")
    line = re.sub(r" \(MODSEQ \d+\)$", "", line)  # RFC 7162 adds the highest MODSEQ
    return [int(x) for x in line.split()[1:]]


def list_rows(r, word: str = "LIST") -> dict[str, dict]:
    """LIST/LSUB responses: name -> {"attrs": lower-cased set, "delim": bytes, "ext": [...]}."""
    rows = {}
    for raw in r.raw:
        parts = parse_imap(raw)
        if str(parts[0]).upper() != word:
            continue
        name = parts[3].decode() if isinstance(parts[3], bytes) else parts[3]
        rows[name] = {"attrs": {str(a).lower() for a in parts[1]}, "delim": parts[2], "ext": parts[4:]}
    return rows


def status_of(r) -> dict[str, dict[str, int]]:
    out = {}
    for raw in r.raw:
        parts = parse_imap(raw)
        if str(parts[0]).upper() != "STATUS":
            continue
        name = parts[1].decode() if isinstance(parts[1], bytes) else parts[1]
        kv = parts[2]
        out[name] = {str(kv[i]).upper(): int(kv[i + 1]) for i in range(0, len(kv), 2)}
    return out


def status(c: RawIMAP, folder: str, items: str = "MESSAGES") -> dict[str, int]:
    r = c.ok(f"STATUS {folder} ({items})")
    st = status_of(r)
    assert len(st) == 1, r
    return next(iter(st.values()))


def code_arg(line: str, code: str) -> str | None:
    m = re.search(r"\[" + re.escape(code) + r"(?: ([^\]]*))?\]", line)
    return None if m is None else (m.group(1) or "")


def untagged_code(r, code: str) -> str | None:
    for line in r.untagged:
        if line.upper().startswith("OK [") and (v := code_arg(line, code)) is not None:
            return v
    return None


def internaldate(value: bytes | str) -> datetime:
    s = value.decode() if isinstance(value, bytes) else value
    return datetime.strptime(s.strip(), "%d-%b-%Y %H:%M:%S %z")


def mutf7(name: str) -> str:
    """Modified UTF-7 (RFC 3501 5.1.3), enough for the tests."""
    out, run = [], []

    def flush():
        if run:
            b = base64.b64encode("".join(run).encode("utf-16-be")).decode().rstrip("=").replace("/", ",")
            out.append("&" + b + "-")
            run.clear()
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


# ---------------------------------------------------------------- CAPABILITY, NOOP, LOGOUT


def test_capability_on_imaps_before_and_after_login(server, acct):
    conn = RawIMAP(*server.addr("imaps"))
    try:
        assert conn.greeting.startswith("* OK"), conn.greeting
        r = conn.ok("CAPABILITY")
        caps = caps_of(one(r.named("CAPABILITY"), "CAPABILITY"))
        assert {"IMAP4REV1", "IMAP4REV2", "AUTH=PLAIN", "SASL-IR"} <= caps, caps
        assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps, caps
        conn.login(*acct)
        r = conn.ok("CAPABILITY")
        caps = caps_of(one(r.named("CAPABILITY"), "CAPABILITY"))
        assert AUTHENTICATED_CAPS <= caps, sorted(AUTHENTICATED_CAPS - caps)
        limits = [c for c in caps if c.startswith("APPENDLIMIT=")]
        assert len(limits) == 1 and int(limits[0].split("=")[1]) > 0, caps
        assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps, caps
    finally:
        conn.logout()


def test_cleartext_port_needs_starttls(server, acct):
    conn = RawIMAP(*server.addr("imap"), implicit_tls=False)
    try:
        assert conn.greeting.startswith("* OK"), conn.greeting
        r = conn.ok("CAPABILITY")
        caps = caps_of(one(r.named("CAPABILITY"), "CAPABILITY"))
        assert {"STARTTLS", "LOGINDISABLED", "IMAP4REV1"} <= caps, caps
        assert "AUTH=PLAIN" not in caps, caps
        # No password in cleartext, by LOGIN or AUTHENTICATE.
        r = conn.cmd(f"LOGIN {imap_quote(acct[0])} {imap_quote(acct[1])}")
        assert r.status == "NO", r
        ir = base64.b64encode(f"\0{acct[0]}\0{acct[1]}".encode()).decode()
        r = conn.cmd(f"AUTHENTICATE PLAIN {ir}")
        assert r.status == "NO", r
        assert conn.cmd("SELECT INBOX").status == "BAD"  # still not logged in
        conn.starttls()
        r = conn.ok("CAPABILITY")
        caps = caps_of(one(r.named("CAPABILITY"), "CAPABILITY"))
        assert "AUTH=PLAIN" in caps, caps
        assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps, caps
        assert conn.cmd("STARTTLS").status in ("BAD", "NO")
        conn.login(*acct)
        conn.ok("SELECT INBOX")
    finally:
        conn.logout()


def test_imaplib_starttls_login(server, acct):
    c = server.imap(acct[0], implicit=False, password=acct[1])
    try:
        assert c.state == "AUTH"
        typ, data = c.select("INBOX")
        assert typ == "OK" and data == [b"0"], (typ, data)
    finally:
        c.logout()


def test_noop_and_logout(server, c):
    r = c.cmd("NOOP")
    assert r.status == "OK" and r.untagged == [], r
    r = c.cmd("LOGOUT")
    assert r.status == "OK", r
    assert any(u.startswith("BYE") for u in r.untagged), r
    assert c.is_closed(3), "connection still open after LOGOUT"


# ---------------------------------------------------------------- LOGIN, AUTHENTICATE


def test_login_and_wrong_password(server, acct):
    with RawIMAP(*server.addr("imaps")) as conn:
        r = conn.cmd(f"LOGIN {imap_quote(acct[0])} {imap_quote(acct[1] + 'x')}")
        assert r.status == "NO" and r.code == "AUTHENTICATIONFAILED", r
        assert conn.cmd("SELECT INBOX").status == "BAD", "logged in after a wrong password"
        r = conn.cmd(f"LOGIN {imap_quote(acct[0])} {imap_quote(acct[1])}")
        assert r.status == "OK", r
        conn.ok("SELECT INBOX")


def test_login_with_literal_password(server):
    addr, _ = server.new_account()
    password = 'sp ace "quote" \\back {brace}'
    server.cli("account", "passwd", addr, "--password", password)
    with RawIMAP(*server.addr("imaps")) as conn:
        r = conn.cmd("LOGIN ", addr.encode(), " ", password.encode())
        assert r.status == "OK", r
        assert len(r.continuations) == 2, r
    with RawIMAP(*server.addr("imaps")) as conn:
        conn.login(addr, password)  # the same as a quoted string


def test_authenticate_plain_with_and_without_initial_response(server, acct):
    token = base64.b64encode(f"\0{acct[0]}\0{acct[1]}".encode()).decode()
    with RawIMAP(*server.addr("imaps")) as conn:
        r = conn.cmd(f"AUTHENTICATE PLAIN {token}")
        assert r.status == "OK" and not r.continuations, r
        conn.ok("SELECT INBOX")
    with RawIMAP(*server.addr("imaps")) as conn:
        conn.send(b"A1 AUTHENTICATE PLAIN\r\n")
        line = conn.read_response()
        assert line.startswith(b"+"), line
        conn.send(token.encode() + b"\r\n")
        assert conn.read_response().startswith(b"A1 OK"), "AUTHENTICATE without SASL-IR failed"
        conn.ok("SELECT INBOX")
    with RawIMAP(*server.addr("imaps")) as conn:
        conn.send(b"A1 AUTHENTICATE PLAIN\r\n")
        assert conn.read_response().startswith(b"+")
        conn.send(b"*\r\n")  # the client cancels
        line = conn.read_response()
        assert line.startswith(b"A1 BAD"), line
        assert conn.cmd("SELECT INBOX").status == "BAD"


def test_imaplib_authenticate_plain(server, acct):
    c = imaplib.IMAP4_SSL(*server.addr("imaps"), ssl_context=client_tls_context(), timeout=30)
    try:
        typ, _ = c.authenticate("PLAIN", lambda _challenge: f"\0{acct[0]}\0{acct[1]}".encode())
        assert typ == "OK" and c.state == "AUTH"
    finally:
        c.logout()


# ---------------------------------------------------------------- ENABLE, ID, NAMESPACE


@pytest.mark.parametrize("request_caps,expected", [
    ("CONDSTORE QRESYNC", {"CONDSTORE", "QRESYNC"}),
    ("IMAP4rev2", {"IMAP4REV2"}),
    ("UTF8=ACCEPT", {"UTF8=ACCEPT"}),
    ("X-NO-SUCH-EXTENSION", set()),
])
def test_enable(server, acct, request_caps, expected):
    with server.raw_imap(*acct) as conn:
        r = conn.ok(f"ENABLE {request_caps}")
        lines = r.named("ENABLED")
        assert len(lines) <= 1, r
        got = {w.upper() for w in (lines[0].split()[1:] if lines else [])}
        assert got == expected, r


def test_enable_before_login_is_bad(server):
    with RawIMAP(*server.addr("imaps")) as conn:
        assert conn.cmd("ENABLE CONDSTORE").status == "BAD"


def test_id_before_and_after_login(server, acct):
    with RawIMAP(*server.addr("imaps")) as conn:
        for args in ('("name" "mailroom-e2e" "version" "1.0")', "NIL"):
            r = conn.ok(f"ID {args}")
            line = one(r.named("ID"), "ID")
            value = parse_imap(line)[1]
            assert value is None or (isinstance(value, list) and len(value) % 2 == 0), line
        conn.login(*acct)
        conn.ok('ID ("name" "mailroom-e2e")')


def test_namespace(c):
    r = c.ok("NAMESPACE")
    parts = parse_imap(one(r.named("NAMESPACE"), "NAMESPACE"))
    assert parts == ["NAMESPACE", [[b"", b"/"]], None, None], r


# ---------------------------------------------------------------- SELECT, EXAMINE


def test_select_and_examine(server, acct):
    with server.raw_imap(*acct) as c:
        u1 = append(c, "INBOX", msg("one"), "\\Seen")
        u2 = append(c, "INBOX", msg("two"), "$Work")
        u3 = append(c, "INBOX", msg("three"))
        validity = int(c.ok("APPEND INBOX ", msg("four")).code.split()[1])
        r = c.ok("SELECT INBOX")
        assert r.code == "READ-WRITE", r
        flags = {str(f).lower() for f in parse_imap(one(r.named("FLAGS"), "FLAGS"))[1]}
        assert {"\\answered", "\\flagged", "\\deleted", "\\seen", "\\draft", "$work"} <= flags, r
        perm = untagged_code(r, "PERMANENTFLAGS")
        assert perm is not None, r
        perm_flags = {f.lower() for f in perm.strip("()").split()}
        assert {"\\answered", "\\flagged", "\\deleted", "\\seen", "\\draft", "\\*"} <= perm_flags, r
        assert "4 EXISTS" in r.untagged, r
        assert "4 RECENT" in r.untagged, r
        assert untagged_code(r, "UNSEEN") == "2", r
        assert untagged_code(r, "UIDVALIDITY") == str(validity), r
        assert int(untagged_code(r, "UIDNEXT")) > max(u1, u2, u3), r
        assert int(untagged_code(r, "HIGHESTMODSEQ")) > 0, r
        assert u1 < u2 < u3

        with server.raw_imap(*acct) as other:
            r = other.ok("EXAMINE INBOX")
            assert r.code == "READ-ONLY", r
            assert "4 EXISTS" in r.untagged, r
            # The first session was told about the new messages: not \Recent here.
            assert "0 RECENT" in r.untagged, r
            assert other.cmd("STORE 2 +FLAGS (\\Flagged)").status == "NO"
            other.ok("FETCH 2 BODY[TEXT]")
            assert "\\Seen" not in flags_of(fetches(other.ok("FETCH 2 FLAGS"))[2]), "EXAMINE set \\Seen"

        # A failed SELECT leaves no folder selected.
        r = c.cmd(f"SELECT Nope{tok()}")
        assert r.status == "NO", r
        assert c.cmd("FETCH 1 FLAGS").status == "BAD"


def test_select_condstore_reports_modseq(server, c):
    append(c, "INBOX", msg("x"))
    r = c.ok("SELECT INBOX (CONDSTORE)")
    assert int(untagged_code(r, "HIGHESTMODSEQ")) > 0, r
    r = c.ok("STORE 1 +FLAGS (\\Flagged)")
    assert int(fetches(r)[1]["MODSEQ"][0]) > 0, r


# ---------------------------------------------------------------- CREATE, DELETE, RENAME


def test_create_with_parents_and_special_use(c):
    p = f"P{tok()}"
    c.ok(f'CREATE "{p}/a/b"')
    rows = list_rows(c.ok(f'LIST "" "{p}*"'))
    assert set(rows) == {p, f"{p}/a", f"{p}/a/b"}, rows
    assert c.cmd(f'CREATE "{p}/a"').status == "NO"
    assert c.cmd("CREATE INBOX").status == "NO"
    assert c.cmd("CREATE inbox").status == "NO"
    # A trailing separator declares a parent; the name itself has none.
    c.ok(f'CREATE "{p}x/"')
    assert f"{p}x" in list_rows(c.ok(f'LIST "" "{p}x"'))

    arch = f"Arch{tok()}"
    c.ok(f'CREATE "{arch}" (USE (\\Archive))')
    rows = list_rows(c.ok(f'LIST "" "{arch}" RETURN (SPECIAL-USE)'))
    assert "\\archive" in rows[arch]["attrs"], rows
    bad = f"Bad{tok()}"
    r = c.cmd(f'CREATE "{bad}" (USE (\\NoSuchUse))')
    assert r.status == "NO" and r.code == "USEATTR", r
    assert bad not in list_rows(c.ok('LIST "" "*"')), "CREATE failed but the folder exists"


def test_delete(c):
    d = f"D{tok()}"
    c.ok(f'CREATE "{d}/child"')
    r = c.cmd(f'DELETE "{d}"')
    assert r.status == "NO" and r.code == "HASCHILDREN", r
    c.ok(f'DELETE "{d}/child"')
    c.ok(f'DELETE "{d}"')
    assert not [n for n in list_rows(c.ok('LIST "" "*"')) if n.startswith(d)]
    assert c.cmd("DELETE INBOX").status == "NO"
    assert c.cmd("DELETE inbox").status == "NO"
    assert c.cmd(f'DELETE "Nope{tok()}"').status == "NO"
    assert "INBOX" in list_rows(c.ok('LIST "" "*"'))

    # Deleted with its messages; a new folder of the same name is a new one.
    x = f"X{tok()}"
    c.ok(f'CREATE "{x}"')
    uid = append(c, x, msg("in x"))
    old = status(c, x, "UIDVALIDITY")["UIDVALIDITY"]
    c.ok(f'DELETE "{x}"')
    assert c.cmd(f'STATUS "{x}" (MESSAGES)').status == "NO"
    c.ok(f'CREATE "{x}"')
    st = status(c, x, "MESSAGES UIDVALIDITY UIDNEXT")
    assert st["MESSAGES"] == 0, st
    assert st["UIDVALIDITY"] != old or st["UIDNEXT"] > uid, f"UIDs of the deleted folder may come back: {st}"


def test_rename_moves_children(c):
    r_, s_ = f"R{tok()}", f"S{tok()}"
    c.ok(f'CREATE "{r_}/a/b"')
    body = msg("deep")
    append(c, f'"{r_}/a/b"', body)
    c.ok(f'RENAME "{r_}/a" "{s_}/x"')
    names = set(list_rows(c.ok('LIST "" "*"')))
    assert {f"{s_}/x", f"{s_}/x/b"} <= names, names
    assert f"{r_}/a" not in names and f"{r_}/a/b" not in names, names
    assert status(c, f'"{s_}/x/b"')["MESSAGES"] == 1
    c.ok(f'SELECT "{s_}/x/b"')
    assert fetches(c.ok("FETCH 1 BODY.PEEK[]"))[1]["BODY[]"] == body
    assert c.cmd(f'RENAME "{s_}/x" "{r_}"').status == "NO", "renamed onto an existing folder"
    assert c.cmd(f'RENAME "Nope{tok()}" "Other{tok()}"').status == "NO"


def test_rename_inbox_moves_messages(c):
    bodies = [msg(f"inbox {i}") for i in range(3)]
    for b in bodies:
        append(c, "INBOX", b)
    old = f"Old{tok()}"
    c.ok(f'RENAME INBOX "{old}"')
    assert status(c, f'"{old}"')["MESSAGES"] == 3
    assert status(c, "INBOX")["MESSAGES"] == 0
    assert "INBOX" in list_rows(c.ok('LIST "" "*"'))
    c.ok(f'SELECT "{old}"')
    got = fetches(c.ok("FETCH 1:* BODY.PEEK[]"))
    assert sorted(v["BODY[]"] for v in got.values()) == sorted(bodies)
    # INBOX still takes new messages.
    append(c, "INBOX", msg("after rename"))
    assert status(c, "INBOX")["MESSAGES"] == 1


# ---------------------------------------------------------------- SUBSCRIBE, LIST, LSUB


def test_subscribe_unsubscribe_lsub(c):
    f, g = f"Sub{tok()}", f"Uns{tok()}"
    c.ok(f'CREATE "{f}"')
    c.ok(f'CREATE "{g}"')
    c.ok(f'UNSUBSCRIBE "{g}"')  # whether CREATE subscribes is up to the server
    c.ok(f'SUBSCRIBE "{f}"')
    assert f in list_rows(c.ok('LSUB "" "*"'), "LSUB")
    assert g not in list_rows(c.ok('LSUB "" "*"'), "LSUB")
    rows = list_rows(c.ok('LIST (SUBSCRIBED) "" "*"'))
    assert f in rows and "\\subscribed" in rows[f]["attrs"], rows
    assert g not in rows, rows
    rows = list_rows(c.ok('LIST "" "*" RETURN (SUBSCRIBED)'))
    assert "\\subscribed" in rows[f]["attrs"] and "\\subscribed" not in rows[g]["attrs"], rows
    c.ok(f'UNSUBSCRIBE "{f}"')
    assert f not in list_rows(c.ok('LSUB "" "*"'), "LSUB")
    assert f not in list_rows(c.ok('LIST (SUBSCRIBED) "" "*"'))


def test_list_default_folders(c):
    r = c.ok('LIST "" "*"')
    rows = list_rows(r)
    assert set(rows) == set(DEFAULT_FOLDERS), r
    for name, use in DEFAULT_FOLDERS.items():
        assert rows[name]["delim"] == b"/", r
        uses = rows[name]["attrs"] & SPECIAL_USE_ATTRS
        assert uses == ({use} if use else set()), (name, rows[name])
    r = c.ok('LIST (SPECIAL-USE) "" "*"')
    assert set(list_rows(r)) == {n for n, u in DEFAULT_FOLDERS.items() if u}, r


def test_list_patterns(c):
    p = f"L{tok()}"
    c.ok(f'CREATE "{p}/a/b"')
    c.ok(f'CREATE "{p}/c"')
    assert set(list_rows(c.ok(f'LIST "" "{p}*"'))) == {p, f"{p}/a", f"{p}/a/b", f"{p}/c"}
    assert set(list_rows(c.ok(f'LIST "" "{p}%"'))) == {p}
    assert set(list_rows(c.ok(f'LIST "" "{p}/%"'))) == {f"{p}/a", f"{p}/c"}
    assert set(list_rows(c.ok(f'LIST "{p}/" "%"'))) == {f"{p}/a", f"{p}/c"}
    top = set(list_rows(c.ok('LIST "" "%"')))
    assert p in top and f"{p}/a" not in top and "INBOX" in top, top
    # The empty pattern asks for the hierarchy delimiter.
    r = c.ok('LIST "" ""')
    parts = parse_imap(one(r.named("LIST"), "LIST"))
    assert "\\noselect" in {str(a).lower() for a in parts[1]} and parts[2] == b"/" and parts[3] == b"", r
    # INBOX matches case-insensitively and comes back as INBOX.
    assert set(list_rows(c.ok('LIST "" "inbox"'))) == {"INBOX"}
    # A name with a space is quoted.
    sp = f"With space {tok()}"
    c.ok(f'CREATE "{sp}"')
    assert sp in list_rows(c.ok('LIST "" "*"'))


def test_list_extended_return_options(c):
    s1, s2 = msg("one", "x" * 100), msg("two", "y" * 300)
    append(c, "INBOX", s1, "\\Seen")
    append(c, "INBOX", s2)
    p = f"E{tok()}"
    c.ok(f'CREATE "{p}/a"')
    r = c.ok('LIST "" "*" RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN SIZE))')
    rows = list_rows(r)
    assert "\\haschildren" in rows[p]["attrs"], rows[p]
    assert "\\hasnochildren" in rows[f"{p}/a"]["attrs"], rows[f"{p}/a"]
    assert "\\hasnochildren" in rows["INBOX"]["attrs"], rows["INBOX"]
    assert "\\sent" in rows["Sent"]["attrs"]
    st = status_of(r)
    assert set(st) == set(rows), f"a STATUS for every listed folder:\n{r}"
    assert st["INBOX"] == {"MESSAGES": 2, "UNSEEN": 1, "SIZE": len(s1) + len(s2)}, st["INBOX"]
    assert st["Sent"] == {"MESSAGES": 0, "UNSEEN": 0, "SIZE": 0}, st["Sent"]
    # Each STATUS comes right after the LIST line of its folder (RFC 5819).
    kinds = [str(parse_imap(raw)[0]).upper() for raw in r.raw]
    assert kinds == ["LIST", "STATUS"] * len(rows), kinds


# ---------------------------------------------------------------- STATUS, APPEND


def test_status(c):
    a, b, d = msg("a"), msg("b", "b" * 500), msg("c", "c" * 50)
    u1 = append(c, "INBOX", a, "\\Seen")
    append(c, "INBOX", b, "\\Deleted")
    u3 = append(c, "INBOX", d)
    validity = int(c.ok("APPEND Trash ", msg("t")).code.split()[1])  # another folder, not counted
    r = c.ok("STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ)")
    line = one(r.named("STATUS"), "STATUS")
    assert parse_imap(line)[1] in ("INBOX", b"INBOX"), line
    st = status_of(r)["INBOX"]
    assert st["MESSAGES"] == 3 and st["RECENT"] == 3 and st["UNSEEN"] == 2 and st["DELETED"] == 1, st
    assert st["SIZE"] == len(a) + len(b) + len(d), st
    assert st["UIDNEXT"] > u3 > u1, st
    assert st["UIDVALIDITY"] > 0 and st["HIGHESTMODSEQ"] > 0, st
    assert status(c, "Trash", "UIDVALIDITY")["UIDVALIDITY"] == validity
    assert status(c, "Sent", "MESSAGES UNSEEN DELETED SIZE") == {"MESSAGES": 0, "UNSEEN": 0, "DELETED": 0, "SIZE": 0}
    assert c.cmd(f"STATUS Nope{tok()} (MESSAGES)").status == "NO"


def test_append_flags_date_and_appenduid(c):
    body = msg("dated", "with flags\r\n")
    r = c.ok('APPEND INBOX (\\Flagged $Label) "05-Mar-2026 10:20:30 +0200" ', body)
    m = re.fullmatch(r"APPENDUID (\d+) (\d+)", r.code or "")
    assert m, r
    validity, uid = int(m.group(1)), int(m.group(2))
    r = c.ok("SELECT INBOX")
    assert untagged_code(r, "UIDVALIDITY") == str(validity)
    items = fetches(c.ok(f"UID FETCH {uid} (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"))[1]
    assert int(items["UID"]) == uid
    assert flags_of(items) == {"\\Flagged", "$Label"}, items["FLAGS"]
    assert internaldate(items["INTERNALDATE"]) == datetime(2026, 3, 5, 8, 20, 30, tzinfo=timezone.utc)
    assert int(items["RFC822.SIZE"]) == len(body)
    assert items["BODY[]"] == body


def test_append_to_missing_folder_is_trycreate(c):
    r = c.cmd(f"APPEND Missing{tok()} ", msg("x"))
    assert r.status == "NO" and r.code == "TRYCREATE", r


def test_multiappend_two_literals(c):
    m1, m2 = msg("multi one"), msg("multi two", "second\r\n")
    r = c.cmd("APPEND INBOX (\\Seen) ", m1, ' (\\Flagged) "06-Mar-2026 07:08:09 +0000" ', m2)
    assert r.status == "OK", r
    assert len(r.continuations) == 2, r
    m = re.fullmatch(r"APPENDUID (\d+) (\S+)", r.code or "")
    assert m, r
    uids = seqset_values(m.group(2))
    assert len(uids) == 2, r
    c.ok("SELECT INBOX")
    got = fetches(c.ok(f"UID FETCH {m.group(2)} (FLAGS INTERNALDATE BODY.PEEK[])"))
    first, second = (got[i] for i in sorted(got))
    assert (first["BODY[]"], second["BODY[]"]) == (m1, m2)
    assert flags_of(first) == {"\\Seen"} and flags_of(second) == {"\\Flagged"}, got
    assert internaldate(second["INTERNALDATE"]) == datetime(2026, 3, 6, 7, 8, 9, tzinfo=timezone.utc)


def test_append_literal_plus(c):
    body = msg("literal plus", "no continuation needed\r\n")
    r = c.cmd("APPEND INBOX ", body, literal_plus=True)
    assert r.status == "OK", r
    assert r.continuations == [], f"a continuation was sent for a {{n+}} literal:\n{r}"
    c.ok("SELECT INBOX")
    assert fetches(c.ok("FETCH 1 BODY.PEEK[]"))[1]["BODY[]"] == body


def test_imaplib_round_trip(server, acct):
    c = server.imap(acct[0], password=acct[1])
    try:
        body = msg("via imaplib", "imaplib body\r\n")
        typ, data = c.append("INBOX", "(\\Seen)", imaplib.Time2Internaldate(time.time()), body)
        assert typ == "OK" and b"APPENDUID" in data[0], data
        typ, data = c.select("INBOX")
        assert typ == "OK" and data == [b"1"], data
        typ, data = c.search(None, "SUBJECT", '"via imaplib"')
        assert data == [b"1"], data
        typ, data = c.fetch("1", "(RFC822)")
        assert typ == "OK" and data[0][1] == body, data
        typ, _ = c.store("1", "+FLAGS", "(\\Deleted)")
        assert typ == "OK"
        typ, data = c.expunge()
        assert typ == "OK" and data == [b"1"], data
        typ, data = c.list()
        assert typ == "OK" and len(data) == len(DEFAULT_FOLDERS), data
    finally:
        c.logout()


# ---------------------------------------------------------------- IDLE, CHECK, CLOSE, UNSELECT, EXPUNGE


def test_idle_and_done(server, acct):
    with server.raw_imap(*acct) as c, server.raw_imap(*acct) as other:
        c.ok("SELECT INBOX")
        c.send(b"I1 IDLE\r\n")
        assert c.read_response().startswith(b"+"), "no continuation for IDLE"
        append(other, "INBOX", msg("while idle"))
        line, _ = c.wait_for(lambda l: l.endswith(b" EXISTS"), timeout=5)
        assert line == b"* 1 EXISTS", line
        c.send(b"DONE\r\n")
        line, _ = c.wait_for(lambda l: l.startswith(b"I1 "), timeout=5)
        assert line.startswith(b"I1 OK"), line
        c.ok("NOOP")


def test_check(c):
    assert c.cmd("CHECK").status == "BAD"  # only with a folder selected
    c.ok("SELECT INBOX")
    assert c.cmd("CHECK").status == "OK"


def _three_with_two_deleted(c) -> list[int]:
    uids = [append(c, "INBOX", msg(f"m{i}")) for i in range(3)]
    c.ok("SELECT INBOX")
    c.ok("STORE 1,3 +FLAGS.SILENT (\\Deleted)")
    return uids


def test_close_expunges_silently(c):
    uids = _three_with_two_deleted(c)
    r = c.ok("CLOSE")
    assert not r.named("EXPUNGE") and not r.named("VANISHED"), f"CLOSE must expunge silently:\n{r}"
    assert c.cmd("FETCH 1 FLAGS").status == "BAD", "a folder is still selected after CLOSE"
    c.ok("EXAMINE INBOX")
    got = fetches(c.ok("FETCH 1:* (UID)"))
    assert [int(v["UID"]) for v in got.values()] == [uids[1]]


def test_close_after_examine_does_not_expunge(c):
    _three_with_two_deleted(c)
    c.ok("EXAMINE INBOX")
    c.ok("CLOSE")
    assert status(c, "INBOX")["MESSAGES"] == 3


def test_unselect_does_not_expunge(c):
    _three_with_two_deleted(c)
    r = c.ok("UNSELECT")
    assert not r.named("EXPUNGE"), r
    assert c.cmd("FETCH 1 FLAGS").status == "BAD"
    assert status(c, "INBOX", "MESSAGES DELETED") == {"MESSAGES": 3, "DELETED": 2}


def apply_expunges(seqs: list[int], lines: list[str]) -> list[int]:
    """Applies `n EXPUNGE` responses to a list of messages in sequence order."""
    for line in lines:
        n = int(line.split()[0])
        assert 1 <= n <= len(seqs), (line, seqs)
        del seqs[n - 1]
    return seqs


def test_expunge(c):
    uids = [append(c, "INBOX", msg(f"e{i}")) for i in range(5)]
    c.ok("SELECT INBOX")
    c.ok("STORE 2,4 +FLAGS (\\Deleted)")
    r = c.ok("EXPUNGE")
    expunges = r.named("EXPUNGE")
    assert len(expunges) == 2, r
    assert apply_expunges(list(uids), expunges) == [uids[0], uids[2], uids[4]], r
    got = fetches(c.ok("FETCH 1:* (UID)"))
    assert [int(v["UID"]) for _, v in sorted(got.items())] == [uids[0], uids[2], uids[4]]
    assert c.ok("EXPUNGE").named("EXPUNGE") == []


def test_uid_expunge_only_given_uids(c):
    uids = [append(c, "INBOX", msg(f"u{i}"), "\\Deleted") for i in range(3)]
    c.ok("SELECT INBOX")
    r = c.ok(f"UID EXPUNGE {uids[1]}")
    assert r.named("EXPUNGE") == ["2 EXPUNGE"], r
    got = fetches(c.ok("FETCH 1:* (UID FLAGS)"))
    assert [int(v["UID"]) for _, v in sorted(got.items())] == [uids[0], uids[2]]
    assert all("\\Deleted" in flags_of(v) for v in got.values())


# ---------------------------------------------------------------- SEARCH


def _date(day: str) -> str:
    return datetime.strptime(day + " 12:00:00 +0000", "%d-%b-%Y %H:%M:%S %z").strftime("%a, %d %b %Y %H:%M:%S %z")


CYRILLIC_SUBJECT = "Отчёт за квартал"


@pytest.fixture(scope="module")
def corpus(server):
    """Five messages in INBOX of an account of their own; tests only EXAMINE it.

    | # | internal date | Date:  | flags              | notes                          |
    | 1 | 10-Feb-2026   | 01-Feb | \\Seen \\Answered    | from Alice Able, cc carol      |
    | 2 | 15-Feb-2026   | 05-Feb | \\Flagged \\Seen     | from bob, bcc dave, X-Mailer   |
    | 3 | 20-Feb-2026   | 10-Feb | \\Deleted $Work     | reply                          |
    | 4 | 25-Feb-2026   | 15-Feb | \\Draft             | Cyrillic subject, ~5 KB        |
    | 5 | 01-Mar-2026   | 20-Feb | (none)             | from frank                     |
    """
    acct = server.new_account()
    cyr = "=?UTF-8?B?" + base64.b64encode(CYRILLIC_SUBJECT.encode()).decode() + "?="
    msgs = [
        (msg("Quarterly report", "The numbers are in. zebra\r\n", frm="Alice Able <alice@example.test>",
             to="bob@example.test", headers="Cc: carol@example.test\r\n", date=_date("01-Feb-2026")),
         "\\Seen \\Answered", "10-Feb-2026 12:00:00 +0000"),
        (msg("Lunch plans", "pizza or sushi\r\n", frm="Bob <bob@example.test>", to="alice@example.test",
             headers="Bcc: dave@remote.test\r\nX-Mailer: FooMail 2.0\r\n", date=_date("05-Feb-2026")),
         "\\Flagged \\Seen", "15-Feb-2026 12:00:00 +0000"),
        (msg("Re: Quarterly report", "looks good, report attached\r\n", frm="carol@example.test",
             to="alice@example.test", date=_date("10-Feb-2026")),
         "\\Deleted $Work", "20-Feb-2026 12:00:00 +0000"),
        (msg(cyr, "padding line\r\n" * 400, frm="eve@remote.test", to="alice@example.test",
             date=_date("15-Feb-2026")),
         "\\Draft", "25-Feb-2026 12:00:00 +0000"),
        (msg("Hello", "TEXT-only-token\r\n", frm="frank@remote.test", to="alice@example.test",
             date=_date("20-Feb-2026")),
         "", "01-Mar-2026 12:00:00 +0000"),
    ]
    with server.raw_imap(*acct) as c:
        uids = [append(c, "INBOX", m, flags, date) for m, flags, date in msgs]
    return acct, uids


@pytest.fixture
def sc(server, corpus):
    conn = server.raw_imap(*corpus[0])
    conn.ok("EXAMINE INBOX")
    yield conn
    conn.logout()


SEARCHES = [
    ("ALL", [1, 2, 3, 4, 5]),
    ("ANSWERED", [1]), ("UNANSWERED", [2, 3, 4, 5]),
    ("DELETED", [3]), ("UNDELETED", [1, 2, 4, 5]),
    ("DRAFT", [4]), ("UNDRAFT", [1, 2, 3, 5]),
    ("FLAGGED", [2]), ("UNFLAGGED", [1, 3, 4, 5]),
    ("SEEN", [1, 2]), ("UNSEEN", [3, 4, 5]),
    ("KEYWORD $Work", [3]), ("UNKEYWORD $Work", [1, 2, 4, 5]),
    ("FROM bob", [2]), ('FROM "Alice Able"', [1]), ("FROM REMOTE.TEST", [4, 5]),
    ("TO bob@example.test", [1]), ("CC carol", [1]), ("BCC dave", [2]),
    ("SUBJECT quarterly", [1, 3]), ('SUBJECT "Lunch plans"', [2]),
    ('HEADER X-Mailer "FooMail"', [2]), ('HEADER X-Mailer ""', [2]), ("HEADER Message-ID client.test", [1, 2, 3, 4, 5]),
    ("BODY zebra", [1]), ("BODY Lunch", []), ("BODY report", [3]),
    ("TEXT Lunch", [2]), ("TEXT zebra", [1]), ("TEXT TEXT-only-token", [5]),
    ("BEFORE 15-Feb-2026", [1]), ("ON 15-Feb-2026", [2]), ("SINCE 20-Feb-2026", [3, 4, 5]),
    ("SENTBEFORE 15-Feb-2026", [1, 2, 3]), ("SENTON 15-Feb-2026", [4]), ("SENTSINCE 20-Feb-2026", [5]),
    ("LARGER 3000", [4]), ("SMALLER 3000", [1, 2, 3, 5]),
    ("NOT DELETED", [1, 2, 4, 5]), ("NOT NOT DELETED", [3]),
    ("OR FLAGGED DRAFT", [2, 4]), ("OR OR ANSWERED FLAGGED DRAFT", [1, 2, 4]),
    ("SEEN FROM bob", [2]),
    ("OR (SEEN FLAGGED) (DRAFT LARGER 3000)", [2, 4]),
    ("NOT (OR SEEN DELETED)", [4, 5]),
    ("(OR SEEN (NOT FROM bob)) UNDELETED", [1, 2, 4, 5]),
    ("((((SEEN))))", [1, 2]),
    ("2,4:5", [2, 4, 5]), ("*", [5]), ("3:*", [3, 4, 5]), ("5:4", [4, 5]), ("1:* SMALLER 3000", [1, 2, 3, 5]),
    ("NOT 1:3", [4, 5]),
    ("SINCE 15-Feb-2026 BEFORE 25-Feb-2026", [2, 3]),
]


@pytest.mark.parametrize("criteria,expected", SEARCHES, ids=[s[0] for s in SEARCHES])
def test_search_keys(sc, criteria, expected):
    assert search(sc, criteria) == expected


def test_search_uid_key_and_uid_search(sc, corpus):
    uids = corpus[1]
    assert search(sc, f"UID {uids[1]}:{uids[3]}") == [2, 3, 4]
    assert search(sc, f"UID {uids[0]},{uids[4]}") == [1, 5]
    assert search(sc, "FLAGGED", uid=True) == [uids[1]]
    assert search(sc, "ALL", uid=True) == uids
    assert search(sc, f"UID {uids[2]}:*", uid=True) == uids[2:]


def test_search_charset_utf8(sc):
    assert search(sc, ("CHARSET UTF-8 SUBJECT ", "Отчёт".encode())) == [4]
    assert search(sc, ("CHARSET UTF-8 SUBJECT ", "квартал".encode())) == [4]
    assert search(sc, ("CHARSET UTF-8 SUBJECT ", "Отпуск".encode())) == []
    assert search(sc, "CHARSET US-ASCII SUBJECT Lunch") == [2]


def test_search_unknown_charset_is_badcharset(sc):
    r = sc.cmd("SEARCH CHARSET X-NO-SUCH-CHARSET SUBJECT x")
    assert r.status == "NO" and (r.code or "").startswith("BADCHARSET"), r
    sc.ok("NOOP")


def test_search_recent_new_old(server, acct):
    with server.raw_imap(*acct) as first:
        append(first, "INBOX", msg("r1"), "\\Seen")
        append(first, "INBOX", msg("r2"))
        append(first, "INBOX", msg("r3"))
        first.ok("SELECT INBOX")
        assert search(first, "RECENT") == [1, 2, 3]
        assert search(first, "NEW") == [2, 3]
        assert search(first, "OLD") == []
        with server.raw_imap(*acct) as second:
            second.ok("SELECT INBOX")
            assert search(second, "RECENT") == []
            assert search(second, "NEW") == []
            assert search(second, "OLD") == [1, 2, 3]


def test_search_within(c):
    """WITHIN (RFC 5032): OLDER / YOUNGER count seconds back from now."""
    two_days_ago = time.strftime("%d-%b-%Y %H:%M:%S +0000", time.gmtime(time.time() - 2 * 86400))
    append(c, "INBOX", msg("old one"), "", two_days_ago)
    append(c, "INBOX", msg("new one"))
    c.ok("SELECT INBOX")
    assert search(c, "YOUNGER 3600") == [2]
    assert search(c, "OLDER 3600") == [1]
    assert search(c, "OLDER 259200") == []
    assert search(c, "YOUNGER 259200") == [1, 2]


def esearch(r) -> dict:
    line = one(r.named("ESEARCH"), "ESEARCH")
    parts = parse_imap(line)
    assert str(parts[0]).upper() == "ESEARCH", line
    out: dict = {}
    rest = parts[1:]
    if rest and isinstance(rest[0], list):
        assert str(rest[0][0]).upper() == "TAG" and rest[0][1] == r.tag.encode(), f"wrong correlator: {line}"
        rest = rest[1:]
    if rest and str(rest[0]).upper() == "UID":
        out["UID"] = True
        rest = rest[1:]
    assert len(rest) % 2 == 0, line
    for i in range(0, len(rest), 2):
        out[str(rest[i]).upper()] = rest[i + 1]
    assert not r.named("SEARCH"), f"SEARCH sent along with ESEARCH:\n{r}"
    return out


def test_esearch(sc, corpus):
    uids = corpus[1]
    e = esearch(sc.ok("SEARCH RETURN (MIN MAX COUNT ALL) UNDELETED"))
    assert (e["MIN"], e["MAX"], e["COUNT"]) == ("1", "5", "4"), e
    assert seqset_values(e["ALL"]) == [1, 2, 4, 5], e
    assert "UID" not in e
    e = esearch(sc.ok("UID SEARCH RETURN (MIN MAX COUNT ALL) UNDELETED"))
    assert e.get("UID") is True, e
    assert (int(e["MIN"]), int(e["MAX"]), int(e["COUNT"])) == (uids[0], uids[4], 4), e
    assert seqset_values(e["ALL"]) == [uids[0], uids[1], uids[3], uids[4]], e
    e = esearch(sc.ok("SEARCH RETURN (COUNT) KEYWORD $NoSuchKeyword"))
    assert e == {"COUNT": "0"}, e
    e = esearch(sc.ok("SEARCH RETURN () FLAGGED"))
    assert seqset_values(e["ALL"]) == [2], e
    e = esearch(sc.ok("SEARCH RETURN (MIN MAX) KEYWORD $NoSuchKeyword"))
    assert "MIN" not in e and "MAX" not in e, e


# ---------------------------------------------------------------- FETCH


BIN = bytes(range(256)) * 3
PART1_BODY = b"Hello part one.\r\nSecond line.\r\n"
PART1_MIME = b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
PART2_MIME = (b'Content-Type: application/octet-stream; name="data.bin"\r\n'
              b"Content-Transfer-Encoding: base64\r\n"
              b'Content-Disposition: attachment; filename="data.bin"\r\n\r\n')
B64 = base64.encodebytes(BIN).replace(b"\n", b"\r\n")
HEAD = (b'From: "Alice Able" <alice@example.test>\r\n'
        b"To: Bob <bob@example.test>, carol@example.test\r\n"
        b"Cc: dave@remote.test\r\n"
        b"Subject: Fetch test\r\n"
        b"Date: Mon, 02 Mar 2026 12:00:00 +0000\r\n"
        b"Message-ID: <fetch-1@example.test>\r\n"
        b"In-Reply-To: <parent@example.test>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XYZ"\r\n'
        b"\r\n")
TEXT = (b"This is a multi-part message.\r\n"
        b"--XYZ\r\n" + PART1_MIME + PART1_BODY +
        b"\r\n--XYZ\r\n" + PART2_MIME + B64 +
        b"--XYZ--\r\n")
MULTIPART = HEAD + TEXT


def s(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


@pytest.fixture
def fc(c):
    """A session with MULTIPART as message 1 of the selected INBOX."""
    c.uid = append(c, "INBOX", MULTIPART, None, "02-Mar-2026 14:15:16 +0000")
    c.ok("SELECT INBOX")
    return c


def test_fetch_flags_date_size_uid_modseq(fc):
    items = fetches(fc.ok("FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE UID MODSEQ)"))[1]
    assert flags_of(items) == set(), items
    assert re.fullmatch(r"[ \d]\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}", s(items["INTERNALDATE"])), items
    assert internaldate(items["INTERNALDATE"]) == datetime(2026, 3, 2, 14, 15, 16, tzinfo=timezone.utc)
    assert int(items["RFC822.SIZE"]) == len(MULTIPART)
    assert int(items["UID"]) == fc.uid
    modseq = int(items["MODSEQ"][0])
    assert modseq > 0
    fc.ok("STORE 1 +FLAGS (\\Flagged)")
    assert int(fetches(fc.ok("FETCH 1 (MODSEQ)"))[1]["MODSEQ"][0]) > modseq
    fast = fetches(fc.ok("FETCH 1 FAST"))[1]
    assert {"FLAGS", "INTERNALDATE", "RFC822.SIZE"} <= set(fast), fast


def test_fetch_envelope(fc):
    env = fetches(fc.ok("FETCH 1 ENVELOPE"))[1]["ENVELOPE"]
    assert len(env) == 10, env
    date, subject, frm, sender, reply_to, to, cc, bcc, in_reply_to, message_id = env
    assert date == b"Mon, 02 Mar 2026 12:00:00 +0000"
    assert subject == b"Fetch test"
    assert frm == [[b"Alice Able", None, b"alice", b"example.test"]], frm
    assert sender == frm and reply_to == frm, (sender, reply_to)
    assert to == [[b"Bob", None, b"bob", b"example.test"], [None, None, b"carol", b"example.test"]], to
    assert cc == [[None, None, b"dave", b"remote.test"]], cc
    assert bcc is None
    assert in_reply_to == b"<parent@example.test>"
    assert message_id == b"<fetch-1@example.test>"


def test_fetch_bodystructure_and_body(fc):
    items = fetches(fc.ok("FETCH 1 (BODYSTRUCTURE BODY)"))[1]
    bs = items["BODYSTRUCTURE"]
    p1, p2 = bs[0], bs[1]
    assert s(bs[2]).upper() == "MIXED", bs
    assert [s(x).upper() for x in bs[3]] == ["BOUNDARY", "XYZ"], bs
    assert (s(p1[0]).upper(), s(p1[1]).upper()) == ("TEXT", "PLAIN"), p1
    assert [s(x).upper() for x in p1[2]] == ["CHARSET", "UTF-8"], p1
    assert p1[3] is None and p1[4] is None, p1
    assert s(p1[5]).upper() == "7BIT", p1
    assert int(p1[6]) == len(PART1_BODY) and int(p1[7]) == 2, p1
    assert (s(p2[0]).upper(), s(p2[1]).upper()) == ("APPLICATION", "OCTET-STREAM"), p2
    assert [s(x) for x in p2[2]][1] == "data.bin" and s(p2[2][0]).upper() == "NAME", p2
    assert s(p2[5]).upper() == "BASE64", p2
    assert int(p2[6]) == len(B64) - 2, p2
    disposition = p2[8]
    assert s(disposition[0]).upper() == "ATTACHMENT" and [s(x).lower() for x in disposition[1]] == ["filename", "data.bin"], p2
    body = items["BODY"]
    assert len(body) == 3 and s(body[2]).upper() == "MIXED", body
    assert len(body[0]) == 8 and len(body[1]) == 7, body


def test_fetch_sections_and_partial(fc):
    r = fc.ok("FETCH 1 (BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[TEXT] "
              "BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2] BODY.PEEK[2.MIME])")
    items = fetches(r)[1]
    assert items["BODY[]"] == MULTIPART
    assert items["BODY[HEADER]"] == HEAD
    fields = [k for k in items if k.startswith("BODY[HEADER.FIELDS")]
    assert fields == ["BODY[HEADER.FIELDS (SUBJECT)]"], list(items)
    assert items[fields[0]] == b"Subject: Fetch test\r\n\r\n"
    assert items["BODY[TEXT]"] == TEXT
    assert items["BODY[1]"] == PART1_BODY
    assert items["BODY[1.MIME]"] == PART1_MIME
    assert items["BODY[2]"] == B64[:-2]
    assert items["BODY[2.MIME]"] == PART2_MIME
    items = fetches(fc.ok("FETCH 1 (BODY.PEEK[]<0.10> BODY.PEEK[TEXT]<5.20> BODY.PEEK[]<100000.10>)"))[1]
    assert items["BODY[]<0>"] == MULTIPART[:10]
    assert items["BODY[TEXT]<5>"] == TEXT[5:25]
    assert items["BODY[]<100000>"] == b""
    assert "\\Seen" not in flags_of(fetches(fc.ok("FETCH 1 FLAGS"))[1]), "BODY.PEEK set \\Seen"


def test_fetch_body_sets_seen(fc):
    fc.ok("FETCH 1 BODY.PEEK[TEXT]")
    assert "\\Seen" not in flags_of(fetches(fc.ok("FETCH 1 FLAGS"))[1])
    r = fc.ok("FETCH 1 BODY[1]")
    assert fetches(r)[1]["BODY[1]"] == PART1_BODY
    assert "\\Seen" in flags_of(fetches(fc.ok("FETCH 1 FLAGS"))[1]), "BODY[] did not set \\Seen"


def test_fetch_binary(fc):
    items = fetches(fc.ok("FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1])"))[1]
    assert items["BINARY[2]"] == BIN
    assert int(items["BINARY.SIZE[2]"]) == len(BIN)
    assert items["BINARY[1]"] == PART1_BODY
    data = bytes(range(256))[::-1] * 5 + b"\x00\x00end"
    single = msg("binary", base64.encodebytes(data).replace(b"\n", b"\r\n"),
                 headers="MIME-Version: 1.0\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n")
    append(fc, "INBOX", single)
    fc.ok("NOOP")
    items = fetches(fc.ok("FETCH 2 (BINARY.PEEK[1] BINARY.SIZE[1])"))[2]
    assert items["BINARY[1]"] == data
    assert int(items["BINARY.SIZE[1]"]) == len(data)
    assert "\\Seen" not in flags_of(fetches(fc.ok("FETCH 2 FLAGS"))[2])
    weird = msg("uu", "begin 644 x\r\nend\r\n", headers="MIME-Version: 1.0\r\nContent-Transfer-Encoding: x-uuencode\r\n")
    append(fc, "INBOX", weird)
    fc.ok("NOOP")
    r = fc.cmd("FETCH 3 BINARY.PEEK[1]")
    assert r.status == "NO" and r.code == "UNKNOWN-CTE", r


def test_uid_fetch(fc):
    r = fc.ok(f"UID FETCH {fc.uid} (FLAGS)")
    items = fetches(r)[1]
    assert int(items["UID"]) == fc.uid, "UID FETCH must return the UID"
    r = fc.ok(f"UID FETCH {fc.uid + 1000} (FLAGS)")
    assert not r.named("FETCH"), r
    r = fc.ok("UID FETCH 1:* (UID)")
    assert [int(v["UID"]) for v in fetches(r).values()] == [fc.uid]


# ---------------------------------------------------------------- STORE


def test_store(c):
    uids = [append(c, "INBOX", msg(f"s{i}")) for i in range(3)]
    c.ok("SELECT INBOX")
    r = c.ok("STORE 1 +FLAGS (\\Flagged $Done)")
    assert flags_of(fetches(r)[1]) == {"\\Flagged", "$Done"}, r
    r = c.ok("STORE 1 -FLAGS (\\Flagged)")
    assert flags_of(fetches(r)[1]) == {"$Done"}, r
    r = c.ok("STORE 1 FLAGS (\\Answered)")
    assert flags_of(fetches(r)[1]) == {"\\Answered"}, r
    r = c.ok("STORE 1:3 +FLAGS.SILENT (\\Seen)")
    assert not r.named("FETCH"), f".SILENT sent FETCH responses:\n{r}"
    got = fetches(c.ok("FETCH 1:3 FLAGS"))
    assert [flags_of(got[i]) for i in (1, 2, 3)] == [{"\\Answered", "\\Seen"}, {"\\Seen"}, {"\\Seen"}]
    r = c.ok(f"UID STORE {uids[1]} +FLAGS (\\Draft)")
    items = fetches(r)[2]
    assert int(items["UID"]) == uids[1] and flags_of(items) == {"\\Seen", "\\Draft"}, r
    r = c.ok(f"UID STORE {uids[2]} -FLAGS.SILENT (\\Seen)")
    assert not r.named("FETCH"), r
    assert flags_of(fetches(c.ok("FETCH 3 FLAGS"))[3]) == set()


def test_store_unchangedsince(server, acct):
    with server.raw_imap(*acct) as c, server.raw_imap(*acct) as other:
        for i in range(2):
            append(c, "INBOX", msg(f"cs{i}"))
        r = c.ok("SELECT INBOX (CONDSTORE)")
        highest = int(untagged_code(r, "HIGHESTMODSEQ"))
        other.ok("SELECT INBOX")
        other.ok("STORE 1 +FLAGS (\\Flagged)")
        r = c.cmd(f"STORE 1:2 (UNCHANGEDSINCE {highest}) +FLAGS (\\Seen)")
        assert r.status == "OK" and r.code == "MODIFIED 1", r
        got = fetches(c.ok("FETCH 1:2 (FLAGS MODSEQ)"))
        assert flags_of(got[1]) == {"\\Flagged"}, "a message changed since was stored anyway"
        assert flags_of(got[2]) == {"\\Seen"}
        assert int(got[2]["MODSEQ"][0]) > highest


# ---------------------------------------------------------------- COPY, MOVE


def test_copy(c):
    uids = [append(c, "INBOX", msg(f"c{i}"), "\\Flagged", "03-Mar-2026 09:00:00 +0000") for i in range(3)]
    dest = f"Dest{tok()}"
    c.ok(f"CREATE {dest}")
    dest_validity = status(c, dest, "UIDVALIDITY")["UIDVALIDITY"]
    c.ok("SELECT INBOX")
    r = c.ok(f"COPY 1:2 {dest}")
    m = re.fullmatch(r"COPYUID (\d+) (\S+) (\S+)", r.code or "")
    assert m, r
    assert int(m.group(1)) == dest_validity
    assert seqset_values(m.group(2)) == uids[:2]
    new = seqset_values(m.group(3))
    assert len(new) == 2
    assert not c.ok("NOOP").named("EXPUNGE")
    assert status(c, dest)["MESSAGES"] == 2
    r = c.ok(f"UID COPY {uids[2]} {dest}")
    m = re.fullmatch(r"COPYUID (\d+) (\S+) (\S+)", r.code or "")
    assert m and seqset_values(m.group(2)) == [uids[2]], r
    original = fetches(c.ok("FETCH 1 (BODY.PEEK[] INTERNALDATE)"))[1]
    c.ok(f"SELECT {dest}")
    copy = fetches(c.ok(f"UID FETCH {new[0]} (FLAGS INTERNALDATE BODY.PEEK[])"))[1]
    assert copy["BODY[]"] == original["BODY[]"]
    assert "\\Flagged" in flags_of(copy)
    assert internaldate(copy["INTERNALDATE"]) == internaldate(original["INTERNALDATE"])
    r = c.cmd(f"COPY 1 Nope{tok()}")
    assert r.status == "NO" and r.code == "TRYCREATE", r


def test_move(c):
    uids = [append(c, "INBOX", msg(f"mv{i}")) for i in range(3)]
    dest = f"MoveTo{tok()}"
    c.ok(f"CREATE {dest}")
    c.ok("SELECT INBOX")
    r = c.ok(f"MOVE 2 {dest}")
    copyuid = [i for i, u in enumerate(r.untagged) if u.upper().startswith("OK [COPYUID ")]
    expunge = [i for i, u in enumerate(r.untagged) if u == "2 EXPUNGE"]
    assert len(copyuid) == 1 and len(expunge) == 1 and copyuid[0] < expunge[0], r
    m = re.search(r"\[COPYUID (\d+) (\S+) (\S+)\]", r.untagged[copyuid[0]])
    assert seqset_values(m.group(2)) == [uids[1]], r
    r = c.ok(f"UID MOVE {uids[2]} {dest}")
    assert "2 EXPUNGE" in r.untagged, r
    assert any(u.upper().startswith("OK [COPYUID ") for u in r.untagged), r
    got = fetches(c.ok("FETCH 1:* (UID)"))
    assert [int(v["UID"]) for v in got.values()] == [uids[0]]
    assert status(c, dest)["MESSAGES"] == 2
    r = c.cmd(f"MOVE 1 Nope{tok()}")
    assert r.status == "NO" and r.code == "TRYCREATE", r
    assert status(c, "INBOX")["MESSAGES"] == 1


# ---------------------------------------------------------------- QUOTA


def test_quota(server):
    addr, pw = server.new_account(quota="100K")
    with server.raw_imap(addr, pw) as c:
        r = c.ok("GETQUOTAROOT INBOX")
        assert [s(x) for x in parse_imap(one(r.named("QUOTAROOT"), "QUOTAROOT"))] == ["QUOTAROOT", "INBOX", ""], r
        assert parse_imap(one(r.named("QUOTA"), "QUOTA")) == ["QUOTA", b"", ["STORAGE", "0", "100"]], r
        big = msg("big", "q" * 60_000 + "\r\n")
        append(c, "INBOX", big)
        r = c.ok('GETQUOTA ""')
        q = parse_imap(one(r.named("QUOTA"), "QUOTA"))
        assert q[2][0] == "STORAGE" and int(q[2][2]) == 100, r
        assert int(q[2][1]) in (len(big) // 1024, -(-len(big) // 1024)), r
        r = c.cmd("APPEND INBOX ", big)
        assert r.status == "NO" and r.code == "OVERQUOTA", r
        c.ok("SELECT INBOX")
        r = c.cmd("COPY 1 Archive")
        assert r.status == "NO" and r.code == "OVERQUOTA", r
        assert status(c, "INBOX")["MESSAGES"] == 1
        assert status(c, "Archive")["MESSAGES"] == 0


def test_no_quota_root_without_quota(c):
    r = c.ok("GETQUOTAROOT INBOX")
    assert [s(x) for x in parse_imap(one(r.named("QUOTAROOT"), "QUOTAROOT"))] == ["QUOTAROOT", "INBOX"], r
    assert not r.named("QUOTA"), r


# ---------------------------------------------------------------- SORT, THREAD


def sort_result(r) -> list[int]:
    return [int(x) for x in one(r.named("SORT"), "SORT").split()[1:]]


def test_sort(c):
    rows = [  # from, subject, Date:, internal date, padding
        ('"Zed Adams" <bob@x.test>', "Re: beta", "03-Feb-2026", "04-Feb-2026", 600),
        ("Carl <zoe@x.test>", "alpha", "01-Feb-2026", "02-Feb-2026", 100),
        ("<mike@x.test>", "Gamma", "04-Feb-2026", "01-Feb-2026", 2000),
        ("Anna <nick@x.test>", "Fwd: delta", "02-Feb-2026", "03-Feb-2026", 1200),
    ]
    uids = []
    for frm, subject, sent, internal, pad in rows:
        uids.append(append(c, "INBOX", msg(subject, "p" * pad + "\r\n", frm=frm, date=_date(sent)), "",
                           f"{internal} 12:00:00 +0000"))
    c.ok("SELECT INBOX")
    assert sort_result(c.ok("SORT (ARRIVAL) UTF-8 ALL")) == [3, 2, 4, 1]
    assert sort_result(c.ok("SORT (SUBJECT) UTF-8 ALL")) == [2, 1, 4, 3]
    assert sort_result(c.ok("SORT (FROM) UTF-8 ALL")) == [1, 3, 4, 2]
    assert sort_result(c.ok("SORT (DISPLAYFROM) UTF-8 ALL")) == [4, 2, 3, 1]
    assert sort_result(c.ok("SORT (DATE) UTF-8 ALL")) == [2, 4, 1, 3]
    assert sort_result(c.ok("SORT (REVERSE SIZE) UTF-8 ALL")) == [3, 4, 1, 2]
    assert sort_result(c.ok("SORT (REVERSE DATE) UTF-8 ALL")) == [3, 1, 4, 2]
    assert sort_result(c.ok("SORT (SUBJECT) UTF-8 NOT FROM zoe")) == [1, 4, 3]
    assert sort_result(c.ok("UID SORT (ARRIVAL) UTF-8 ALL")) == [uids[2], uids[1], uids[3], uids[0]]


def test_thread(c):
    rows = [  # subject, message-id, references
        ("Plan", "<p1@t.test>", None),
        ("Re: Plan", "<p2@t.test>", "<p1@t.test>"),
        ("Other", "<o1@t.test>", None),
        ("Re: Plan", "<p3@t.test>", "<p1@t.test> <p2@t.test>"),
        ("Re: Plan", "<p4@t.test>", "<p1@t.test>"),
    ]
    uids = []
    for day, (subject, mid, refs) in enumerate(rows, start=1):
        extra = f"In-Reply-To: {refs.split()[-1]}\r\nReferences: {refs}\r\n" if refs else ""
        uids.append(append(c, "INBOX", msg(subject, msgid=mid, headers=extra, date=_date(f"0{day}-Feb-2026"))))
    c.ok("SELECT INBOX")
    r = c.ok("THREAD REFERENCES UTF-8 ALL")
    assert one(r.named("THREAD"), "THREAD") == "THREAD (1 (2 4)(5))(3)", r
    r = c.ok("THREAD ORDEREDSUBJECT UTF-8 ALL")
    assert one(r.named("THREAD"), "THREAD") == "THREAD (1 (2)(4)(5))(3)", r
    r = c.ok("UID THREAD REFERENCES UTF-8 ALL")
    u = uids
    assert one(r.named("THREAD"), "THREAD") == f"THREAD ({u[0]} ({u[1]} {u[3]})({u[4]}))({u[2]})", r
    r = c.ok("THREAD REFERENCES UTF-8 NOT SUBJECT Other")
    assert one(r.named("THREAD"), "THREAD") == "THREAD (1 (2 4)(5))", r


# ---------------------------------------------------------------- COMPRESS=DEFLATE


def test_compress_deflate(server, acct):
    big = msg("compressed", ("compressible line of text\r\n" * 4000))
    with server.raw_imap(*acct) as c:
        uid = append(c, "INBOX", big)
        r = c.ok("COMPRESS DEFLATE")
        assert not c.buf, "data after the COMPRESS response was not compressed"
        comp = zlib.compressobj(wbits=-15)
        dec = zlib.decompressobj(wbits=-15)
        inbuf = b""

        def send(line: bytes):
            c.sock.sendall(comp.compress(line) + comp.flush(zlib.Z_SYNC_FLUSH))

        def until_tagged(tag: bytes) -> bytes:
            nonlocal inbuf
            while not re.search(rb"(^|\r\n)" + tag + rb" [^\r\n]*\r\n", inbuf):
                chunk = c.sock.recv(65536)
                if not chunk:
                    raise ConnectionClosed(f"closed after COMPRESS; got {inbuf[-300:]!r}")
                inbuf += dec.decompress(chunk)
            out, inbuf = inbuf, b""
            return out

        send(b"C1 NOOP\r\n")
        assert re.search(rb"(^|\r\n)C1 OK", until_tagged(b"C1")), "NOOP after COMPRESS failed"
        send(b"C2 SELECT INBOX\r\n")
        assert b"C2 OK" in until_tagged(b"C2")
        send(f"C3 UID FETCH {uid} BODY.PEEK[]\r\n".encode())
        out = until_tagged(b"C3")
        assert b"{%d}\r\n" % len(big) + big in out, out[:300]
        assert re.search(rb"\r\nC3 OK", out)
        send(b"C4 COMPRESS DEFLATE\r\n")
        out = until_tagged(b"C4")
        assert re.search(rb"C4 NO \[COMPRESSIONACTIVE\]", out), out
        send(b"C5 LOGOUT\r\n")
        out = until_tagged(b"C5")
        assert b"* BYE" in out and b"C5 OK" in out, out
        assert r.status == "OK"


# ---------------------------------------------------------------- CONDSTORE, QRESYNC


def test_condstore_changedsince(server, acct):
    with server.raw_imap(*acct) as c:
        for i in range(3):
            append(c, "INBOX", msg(f"cond{i}"))
        r = c.ok("ENABLE CONDSTORE")
        r = c.ok("SELECT INBOX")
        highest = int(untagged_code(r, "HIGHESTMODSEQ"))
        r = c.ok("STORE 2 +FLAGS (\\Flagged)")
        changed = fetches(r)[2]
        assert int(changed["MODSEQ"][0]) > highest, f"STORE response without MODSEQ after ENABLE CONDSTORE:\n{r}"
        r = c.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {highest})")
        got = fetches(r)
        assert list(got) == [2], r
        assert flags_of(got[2]) == {"\\Flagged"} and int(got[2]["MODSEQ"][0]) > highest, r
        # MODSEQ n matches n and above (RFC 7162 3.1.5).
        assert search(c, f"MODSEQ {highest}") == [2, 3]
        assert search(c, f"MODSEQ {highest + 1}") == [2]
        line = one(c.ok(f"SEARCH MODSEQ {highest + 1}").named("SEARCH"), "SEARCH")
        m = re.fullmatch(r"SEARCH 2 \(MODSEQ (\d+)\)", line)
        assert m and int(m.group(1)) == int(changed["MODSEQ"][0]), line
        st = status(c, "INBOX", "HIGHESTMODSEQ")
        assert st["HIGHESTMODSEQ"] >= int(changed["MODSEQ"][0]) > highest


def test_qresync_select_and_vanished_earlier(server, acct):
    with server.raw_imap(*acct) as c:
        uids = [append(c, "INBOX", msg(f"q{i}")) for i in range(5)]
        c.ok("ENABLE QRESYNC")
        r = c.ok("SELECT INBOX")
        validity, highest = int(untagged_code(r, "UIDVALIDITY")), int(untagged_code(r, "HIGHESTMODSEQ"))
    with server.raw_imap(*acct) as other:
        other.ok("SELECT INBOX")
        other.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
        other.ok("EXPUNGE")
        other.ok("STORE 1 +FLAGS (\\Flagged)")
    with server.raw_imap(*acct) as c:
        assert c.cmd(f"SELECT INBOX (QRESYNC ({validity} {highest}))").status == "BAD", "QRESYNC without ENABLE"
        c.ok("ENABLE QRESYNC")
        r = c.ok(f"SELECT INBOX (QRESYNC ({validity} {highest}))")
        vanished = one(r.named("VANISHED"), "VANISHED")
        assert vanished.upper().startswith("VANISHED (EARLIER) "), r
        assert seqset_values(vanished.split()[2]) == [uids[1], uids[3]], r
        got = fetches(r)
        assert list(got) == [1], r
        assert int(got[1]["UID"]) == uids[0] and flags_of(got[1]) == {"\\Flagged"}, r
        assert "MODSEQ" in got[1], r
        assert "3 EXISTS" in r.untagged, r
        r = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {highest} VANISHED)")
        vanished = one(r.named("VANISHED"), "VANISHED")
        assert vanished.upper().startswith("VANISHED (EARLIER) "), r
        assert seqset_values(vanished.split()[2]) == [uids[1], uids[3]], r
        got = fetches(r)
        assert [int(v["UID"]) for v in got.values()] == [uids[0]], r


# ---------------------------------------------------------------- mailbox names


def test_modified_utf7_and_utf8_names(server, acct):
    assert mutf7(RUSSIAN_SENT) == RUSSIAN_SENT_MUTF7
    with server.raw_imap(*acct) as seven, server.raw_imap(*acct) as eight:
        seven.ok(f'CREATE "{RUSSIAN_SENT_MUTF7}"')
        append(seven, f'"{RUSSIAN_SENT_MUTF7}"', msg("в папке"))
        assert RUSSIAN_SENT_MUTF7 in list_rows(seven.ok('LIST "" "*"'))
        eight.ok("ENABLE UTF8=ACCEPT")
        r = eight.ok('LIST "" "*"')
        rows = list_rows(r)
        assert RUSSIAN_SENT in rows and RUSSIAN_SENT_MUTF7 not in rows, r
        assert status(eight, f'"{RUSSIAN_SENT}"')["MESSAGES"] == 1
        other = "Входящие-" + tok()
        eight.ok("CREATE ", other.encode())
        eight.ok(f'CREATE "{other}/Подпапка"')
        assert mutf7(other) in list_rows(seven.ok('LIST "" "*"'))
        assert f"{mutf7(other)}/{mutf7('Подпапка')}" in list_rows(seven.ok('LIST "" "*"'))
        assert status(seven, f'"{mutf7(other)}"')["MESSAGES"] == 0
        eight.ok(f'SELECT "{RUSSIAN_SENT}"')
        seven.ok(f'SELECT "{RUSSIAN_SENT_MUTF7}"')


def test_inbox_is_case_insensitive(c):
    append(c, "inbox", msg("lower"))
    append(c, "InBoX", msg("mixed"))
    assert status(c, "iNbOx")["MESSAGES"] == 2
    r = c.ok("SELECT inbox")
    assert "2 EXISTS" in r.untagged, r
    r = c.ok("EXAMINE Inbox")
    assert "2 EXISTS" in r.untagged, r
    st = status_of(c.ok("STATUS inbox (MESSAGES)"))
    assert list(st) == ["INBOX"], st
