"""IMAP protocol details found in an RFC compliance review, each checked
against the exact responses: [CLOSED] for IMAP4rev2, \\Recent held by one
session only, a failed DELETE keeping the selection, LSUB `%` parents and
LIST (SUBSCRIBED RECURSIVEMATCH) CHILDINFO."""

from __future__ import annotations

import re

from mailroom import make_message, parse_imap


def message(subject: str) -> bytes:
    return make_message("sender@remote.test", "alice@example.test", subject, "body")


def rows(r, word: str = "LIST") -> dict[str, tuple[set[str], list]]:
    """LIST/LSUB responses: name -> (lower-cased attributes, extended data)."""
    out = {}
    for raw in r.raw:
        parts = parse_imap(raw)
        if str(parts[0]).upper() != word:
            continue
        name = parts[3].decode() if isinstance(parts[3], bytes) else parts[3]
        out[name] = ({str(a).lower() for a in parts[1]}, parts[4:])
    return out


def test_select_sends_closed_when_imap4rev2_is_enabled(c):
    """RFC 9051 6.3.2 / 7.1: a SELECT that replaces the selection sends
    `OK [CLOSED]` first, also without QRESYNC."""
    c.ok("ENABLE IMAP4rev2")
    c.ok("CREATE Other")
    first = c.ok("SELECT INBOX")
    assert not any("[CLOSED]" in u for u in first.untagged), first
    r = c.ok("SELECT Other")
    assert r.untagged[0].startswith("OK [CLOSED]"), r
    r = c.cmd("EXAMINE NoSuchFolder")
    assert r.status == "NO" and r.untagged and r.untagged[0].startswith("OK [CLOSED]"), r


def test_select_without_rev2_or_qresync_sends_no_closed(c):
    c.ok("SELECT INBOX")
    r = c.ok("SELECT INBOX")
    assert not any("[CLOSED]" in u for u in r.untagged), r


def test_failed_delete_of_the_selected_folder_keeps_it_selected(c):
    c.ok("APPEND INBOX ", message("kept"))
    c.ok("SELECT INBOX")
    r = c.cmd("DELETE INBOX")
    assert r.status == "NO", r
    r = c.ok("FETCH 1 (UID)")  # still selected
    assert r.named("FETCH"), r
    c.ok("CLOSE")


def test_deleting_the_selected_folder_leaves_the_selected_state(c):
    c.ok("ENABLE QRESYNC")
    c.ok("CREATE Doomed")
    c.ok("SELECT Doomed")
    r = c.ok("DELETE Doomed")
    assert any(u.startswith("OK [CLOSED]") for u in r.untagged), r
    assert c.cmd("FETCH 1:* (UID)").status == "BAD"


def test_recent_belongs_to_one_session_only(server, acct):
    """RFC 3501 2.3.2: a message is \\Recent in the first session told of it,
    not in every session that had the folder selected when it arrived."""
    with server.raw_imap(*acct) as a, server.raw_imap(*acct) as b:
        a.ok("APPEND INBOX ", message("one"))
        r = a.ok("SELECT INBOX")
        assert "1 RECENT" in r.untagged, r
        r = b.ok("SELECT INBOX")
        assert "0 RECENT" in r.untagged, r
        # A new message: the session that hears of it first claims it.
        a.ok("APPEND INBOX ", message("two"))  # a is told at once (EXISTS after APPEND)
        r = b.ok("NOOP")
        assert "2 EXISTS" in r.untagged and "0 RECENT" in r.untagged, r
        flags_a = a.ok("FETCH 2 (FLAGS)").named("FETCH")
        flags_b = b.ok("FETCH 2 (FLAGS)").named("FETCH")
        assert "\\Recent" in flags_a[0] and "\\Recent" not in flags_b[0], (flags_a, flags_b)
        # The other way round: b hears of the third message first.
        b.ok("APPEND INBOX ", message("three"))
        r = b.ok("NOOP")
        r = a.ok("NOOP")
        assert "3 EXISTS" in r.untagged and "2 RECENT" in r.untagged, r
        recent_a = [f for f in a.ok("FETCH 1:* (FLAGS)").named("FETCH") if "\\Recent" in f]
        recent_b = [f for f in b.ok("FETCH 1:* (FLAGS)").named("FETCH") if "\\Recent" in f]
        assert [f.split()[0] for f in recent_a] == ["1", "2"], recent_a
        assert [f.split()[0] for f in recent_b] == ["3"], recent_b
        # And nobody else will see them as recent.
        with server.raw_imap(*acct) as other:
            r = other.ok("STATUS INBOX (RECENT)")
            assert re.search(r"RECENT 0\)", r.untagged[0]), r


def test_lsub_percent_lists_an_unsubscribed_parent_as_noselect(c):
    """RFC 3501 6.3.9: with `%`, a subscribed `foo/bar` whose parent is not
    subscribed shows the parent `foo` flagged \\Noselect."""
    c.ok("CREATE Proj/Sub")
    c.ok("UNSUBSCRIBE Proj")
    c.ok("SUBSCRIBE Proj/Sub")
    c.ok("SUBSCRIBE Gone/Child")
    r = rows(c.ok('LSUB "" "%"'), "LSUB")
    assert r["Proj"][0] == {"\\noselect"}, r
    assert r["Gone"][0] == {"\\noselect"}, r
    assert "Proj/Sub" not in r and "Gone/Child" not in r, r
    r = rows(c.ok('LSUB "" "*"'), "LSUB")
    assert "Proj" not in r and r["Proj/Sub"][0] == set(), r
    c.ok("SUBSCRIBE Proj")
    r = rows(c.ok('LSUB "" "%"'), "LSUB")
    assert r["Proj"][0] == set(), r


def test_list_subscribed_recursivematch_childinfo(c):
    """RFC 5258 3.5 / 3.4: a name matching the pattern with a subscribed
    descendant that does not match gets CHILDINFO, subscribed or not, and
    \\NonExistent if there is no such folder."""
    c.ok("CREATE Top/Mid/Leaf")
    c.ok("CREATE Plain/Child")
    for name in ("Top", "Top/Mid", "Plain", "Plain/Child"):
        c.ok(f"UNSUBSCRIBE {name}")
    c.ok("SUBSCRIBE Top")
    c.ok("SUBSCRIBE Plain/Child")
    c.ok("SUBSCRIBE Ghost/Child")
    r = rows(c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"'))
    childinfo = [b"CHILDINFO", [b"SUBSCRIBED"]]
    assert "\\subscribed" in r["Top"][0] and r["Top"][1] == [childinfo], r
    assert "\\subscribed" not in r["Plain"][0] and r["Plain"][1] == [childinfo], r
    assert r["Ghost"][0] == {"\\nonexistent"} and r["Ghost"][1] == [childinfo], r
    assert not any(name.count("/") for name in r), r
    # Without RECURSIVEMATCH: only the subscribed names themselves.
    r = rows(c.ok('LIST (SUBSCRIBED) "" "%"'))
    assert "Top" in r and "Plain" not in r and "Ghost" not in r and r["Top"][1] == [], r
    # Children matching the pattern themselves need no CHILDINFO.
    r = rows(c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "Plain/*"'))
    assert set(r) == {"Plain/Child"}, r
