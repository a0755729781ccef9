"""Several sessions on one mailbox: what one IMAP session changes reaches the
others (EXPUNGE / VANISHED, FETCH FLAGS, EXISTS) at the moments RFC 9051
allows, an IDLE session hears of new SMTP mail at once, and IMAP and POP3
see the same INBOX. Every test uses an account of its own."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from mailroom import QUEUED_RE, RawIMAP, fetch_items, make_message, retr_bytes, seqset_values


def tok() -> str:
    return uuid.uuid4().hex


def append(c: RawIMAP, data: bytes, flags: str = "", folder: str = "INBOX") -> int:
    r = c.ok(f"APPEND {folder} ({flags}) ", data)
    m = re.fullmatch(r"APPENDUID \d+ (\d+)", r.code or "")
    assert m, r
    return int(m.group(1))


def message(subject: str) -> bytes:
    return make_message("sender@remote.test", "someone@example.test", subject, f"body of {subject}\r\n")


def fetch_lines(lines) -> dict[int, dict]:
    out = {}
    for raw in lines:
        raw = raw[2:] if raw.startswith(b"* ") else raw
        parts = raw.split(b" ", 2)
        if len(parts) > 1 and parts[0].isdigit() and parts[1].upper() == b"FETCH":
            n, items = fetch_items(raw)
            out.setdefault(n, {}).update(items)
    return out


def flags(items: dict) -> set[str]:
    return {str(f) for f in items["FLAGS"]} - {"\\Recent"}


def expunged_or_vanished(r) -> list[str]:
    return r.named("EXPUNGE") + r.named("VANISHED")


@pytest.fixture
def two(server, acct):
    """Two sessions of one account, both with INBOX selected, holding four messages."""
    a = server.raw_imap(*acct)
    b = server.raw_imap(*acct)
    uids = [append(a, message(f"sync {i} {tok()}")) for i in range(4)]
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    yield a, b, uids
    a.logout()
    b.logout()


# ---------------------------------------------------------------- IMAP <-> IMAP


def test_other_session_sees_expunge_and_flags_on_noop(two):
    a, b, uids = two
    a.ok("STORE 1 +FLAGS (\\Flagged)")
    a.ok("STORE 3 +FLAGS (\\Deleted)")
    r = a.ok("EXPUNGE")
    assert r.named("EXPUNGE") == ["3 EXPUNGE"], r
    r = b.ok("NOOP")
    assert r.named("EXPUNGE") == ["3 EXPUNGE"], r
    changed = fetch_lines(r.raw)
    assert 1 in changed and flags(changed[1]) == {"\\Flagged"}, r
    got = fetch_lines(b.ok("FETCH 1:* (UID FLAGS)").raw)
    assert [int(v["UID"]) for _, v in sorted(got.items())] == [uids[0], uids[1], uids[3]]
    assert flags(got[1]) == {"\\Flagged"}


def test_flag_changes_reach_an_examine_session(server, acct):
    with server.raw_imap(*acct) as a, server.raw_imap(*acct) as b:
        append(a, message("watched"))
        a.ok("SELECT INBOX")
        b.ok("EXAMINE INBOX")
        a.ok("STORE 1 +FLAGS ($Important \\Answered)")
        r = b.ok("NOOP")
        changed = fetch_lines(r.raw)
        assert flags(changed[1]) == {"$Important", "\\Answered"}, r


def test_qresync_session_gets_vanished(two):
    a, b, uids = two
    b.ok("UNSELECT")
    b.ok("ENABLE QRESYNC")
    b.ok("SELECT INBOX")
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    r = b.ok("NOOP")
    assert not r.named("EXPUNGE"), f"EXPUNGE sent after ENABLE QRESYNC:\n{r}"
    vanished = r.named("VANISHED")
    assert len(vanished) == 1 and not vanished[0].upper().startswith("VANISHED (EARLIER)"), r
    assert seqset_values(vanished[0].split()[1]) == [uids[1]], r


def test_no_expunge_during_fetch_store_search_by_sequence_number(two):
    a, b, uids = two
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    r = b.cmd("FETCH 1:4 (UID)")
    assert not expunged_or_vanished(r), f"EXPUNGE during FETCH by sequence number:\n{r}"
    assert r.status in ("OK", "NO"), r
    # Message 3 is still message 3 for this client.
    assert int(fetch_lines(r.raw)[3]["UID"]) == uids[2], r
    r = b.cmd("STORE 3 +FLAGS (\\Seen)")
    assert not expunged_or_vanished(r), f"EXPUNGE during STORE:\n{r}"
    assert r.status == "OK", r
    r = b.cmd("SEARCH ALL")
    assert not expunged_or_vanished(r), f"EXPUNGE during SEARCH:\n{r}"
    r = b.ok("NOOP")
    assert r.named("EXPUNGE") == ["2 EXPUNGE"], r
    got = fetch_lines(b.ok("FETCH 1:* (UID FLAGS)").raw)
    assert [int(v["UID"]) for _, v in sorted(got.items())] == [uids[0], uids[2], uids[3]]
    assert "\\Seen" in flags(got[2]), "the STORE on message 3 went to the wrong message"


def test_new_message_announced_on_noop(two):
    a, b, uids = two
    append(a, message("fifth"))
    r = b.ok("NOOP")
    assert "5 EXISTS" in r.untagged, r
    got = fetch_lines(b.ok("FETCH 5 (UID)").raw)
    assert int(got[5]["UID"]) > uids[-1]


# ---------------------------------------------------------------- IDLE


def test_idle_hears_smtp_delivery_within_a_second(server, acct):
    with server.raw_imap(*acct) as c:
        c.ok("SELECT INBOX")
        c.send(b"I1 IDLE\r\n")
        assert c.read_response().startswith(b"+"), "no continuation for IDLE"
        t = tok()
        with server.smtp("smtp") as smtp:
            smtp.ehlo()
            r = smtp.sendmail("sender@remote.test", [acct[0]], message(f"pushed {t}"))
            assert QUEUED_RE.match(r.lines[0]), r
            accepted = time.monotonic()
            line, seen = c.wait_for(lambda l: l.endswith(b" EXISTS"), timeout=5)
            elapsed = time.monotonic() - accepted
            smtp.quit()
        assert line == b"* 1 EXISTS", seen
        assert elapsed < 1.0, f"IDLE heard of the delivery {elapsed:.2f}s after the 250"
        c.send(b"DONE\r\n")
        line, seen = c.wait_for(lambda l: l.startswith(b"I1 "), timeout=5)
        assert line.startswith(b"I1 OK"), seen
        body = fetch_lines(c.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]").raw)[1]
        assert t.encode() in body["BODY[HEADER.FIELDS (SUBJECT)]"]


def test_idle_hears_flags_and_expunge_from_another_session(two):
    a, b, uids = two
    b.send(b"I1 IDLE\r\n")
    assert b.read_response().startswith(b"+")
    started = time.monotonic()
    a.ok("STORE 4 +FLAGS (\\Flagged)")
    line, _ = b.wait_for(lambda l: re.match(rb"\* 4 FETCH ", l) is not None, timeout=5)
    assert b"\\Flagged" in line, line
    a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    line, _ = b.wait_for(lambda l: l.endswith(b" EXPUNGE"), timeout=5)
    assert line == b"* 1 EXPUNGE", line
    assert time.monotonic() - started < 2.0
    b.send(b"DONE\r\n")
    line, seen = b.wait_for(lambda l: l.startswith(b"I1 "), timeout=5)
    assert line.startswith(b"I1 OK"), seen
    got = fetch_lines(b.ok("FETCH 1:* (UID)").raw)
    assert [int(v["UID"]) for _, v in sorted(got.items())] == uids[1:]


# ---------------------------------------------------------------- IMAP <-> POP3


def pop3_sizes(server, acct) -> tuple[int, list[bytes]]:
    p = server.pop3(acct[0], password=acct[1])
    try:
        count, _ = p.stat()
        msgs = [retr_bytes(p, i) for i in range(1, count + 1)]
    finally:
        p.quit()
    return count, msgs


def test_pop3_dele_vanishes_for_imap(server, acct):
    with server.raw_imap(*acct) as c:
        t = [tok() for _ in range(3)]
        uids = [append(c, message(x)) for x in t]
        c.ok("SELECT INBOX")
        p = server.pop3(acct[0], password=acct[1])
        try:
            count, _ = p.stat()
            assert count == 3
            target = next(i for i in range(1, 4) if t[1].encode() in retr_bytes(p, i))
            assert p.dele(target).startswith(b"+OK")
        finally:
            p.quit()
        r = c.ok("NOOP")
        assert r.named("EXPUNGE") == ["2 EXPUNGE"], r
        got = fetch_lines(c.ok("FETCH 1:* (UID)").raw)
        assert [int(v["UID"]) for _, v in sorted(got.items())] == [uids[0], uids[2]]
        st = c.ok("STATUS INBOX (MESSAGES)")
        assert st.named("STATUS")[0].endswith("(MESSAGES 2)"), st


def test_imap_append_shows_in_pop3(server, acct):
    before, _ = pop3_sizes(server, acct)
    body = message(f"appended {tok()}")
    with server.raw_imap(*acct) as c:
        append(c, body)
    count, msgs = pop3_sizes(server, acct)
    assert count == before + 1
    assert body in msgs, "the APPENDed message differs in POP3"


def test_imap_expunge_removes_from_pop3(server, acct):
    t = tok()
    with server.raw_imap(*acct) as c:
        append(c, message(f"keep {tok()}"))
        append(c, message(f"drop {t}"))
        c.ok("SELECT INBOX")
        c.ok("STORE 2 +FLAGS (\\Deleted)")
        c.ok("EXPUNGE")
    count, msgs = pop3_sizes(server, acct)
    assert count == 1
    assert not [m for m in msgs if t.encode() in m]


def test_delivered_mail_in_both(server, acct):
    t = tok()
    server.deliver(acct[0], message(f"both {t}"))
    deadline = time.monotonic() + 5
    with server.raw_imap(*acct) as c:
        while True:
            r = c.ok("STATUS INBOX (MESSAGES)")
            if r.named("STATUS")[0].endswith("(MESSAGES 1)") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        c.ok("EXAMINE INBOX")
        imap_copy = fetch_lines(c.ok("FETCH 1 BODY.PEEK[]").raw)[1]["BODY[]"]
    count, msgs = pop3_sizes(server, acct)
    assert count == 1 and msgs[0] == imap_copy and t.encode() in imap_copy
