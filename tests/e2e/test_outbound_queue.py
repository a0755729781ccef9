"""The outbound queue as an administrator sees it, DKIM signing, and a clean
stop in the middle of a delivery.

The module's server retries only every hour (`retry_schedule 1h`), so a
deferred message stays deferred until the CLI says otherwise; the server
scans the queue every second (`queue_poll_secs 1`).
"""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest

from conftest import outbound_settings, require_module
from mailroom import make_message, queue_entry, wait_for, wait_queue_empty

ALICE = "alice@example.test"
POLL = 1  # queue_poll_secs


def tok() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def server(server_factory, test_dns, loopback):
    return server_factory(settings=outbound_settings(test_dns, loopback, retry_schedule="1h",
                                                     queue_poll_secs=POLL))


def send_out(srv, rcpt: str, token: str, from_header: str = ALICE) -> tuple[str, bytes]:
    msg = make_message(from_header, rcpt, f"queue {token}", f"Queued message {token}.\r\n")
    return srv.deliver([rcpt], msg, sender=ALICE), msg


def busy_domain(test_dns, smtp_peers, token: str, name: str = "busy"):
    """A domain whose MX answers every RCPT with 451 until told otherwise."""
    domain = f"{name}-{token}.test"
    peer = smtp_peers()
    peer.on_rcpt(f"451 4.2.0 Mailbox busy {token}")
    test_dns.mail_domain(domain, [(10, peer.ip)])
    return domain, peer


def wait_status(srv, qid: str, status: str, timeout: float = 15) -> dict:
    def check():
        e = queue_entry(srv, qid)
        return e if e and e["status"] == status else None
    try:
        return wait_for(check, timeout, what=f"{qid} to be {status}")
    except AssertionError as e:
        raise AssertionError(f"{e}; entry is {queue_entry(srv, qid)}") from None


def settle() -> None:
    """Long enough for the server to notice a CLI change and act on it."""
    time.sleep(POLL + 2)


def test_list_and_show(server, test_dns, smtp_peers):
    t = tok()
    domain, _peer = busy_domain(test_dns, smtp_peers, t)
    rcpt = f"user@{domain}"
    qid, _ = send_out(server, rcpt, t)
    entry = wait_status(server, qid, "deferred")
    assert entry["sender"] == ALICE
    assert entry["recipients"] == [rcpt]
    assert entry["attempts"] == 1, entry
    assert entry["next_attempt"], entry
    assert "451" in entry["last_error"] or f"Mailbox busy {t}" in entry["last_error"], entry
    for key in ("id", "sender", "recipients", "status", "attempts", "next_attempt", "last_error"):
        assert key in entry, f"queue list --json lacks {key!r}: {entry}"

    human = server.cli("queue", "list").stdout
    assert qid in human and rcpt in human, human
    shown = server.cli("queue", "show", qid).stdout
    assert qid in shown and rcpt in shown and ALICE in shown, shown
    assert f"Mailbox busy {t}" in shown, f"queue show does not give the last error: {shown}"

    missing = server.cli("queue", "show", "NO-SUCH-ID", check=False)
    assert missing.returncode != 0 and missing.stderr.strip(), missing
    server.cli("queue", "delete", qid)


def test_retry_one_then_all(server, test_dns, smtp_peers):
    t = tok()
    dom_a, peer_a = busy_domain(test_dns, smtp_peers, t, "retry-a")
    dom_b, peer_b = busy_domain(test_dns, smtp_peers, t, "retry-b")
    id_a, _ = send_out(server, f"user@{dom_a}", f"{t}-a")
    id_b, _ = send_out(server, f"user@{dom_b}", f"{t}-b")
    wait_status(server, id_a, "deferred")
    wait_status(server, id_b, "deferred")
    peer_a.accept_all()
    peer_b.accept_all()

    server.cli("queue", "retry", id_a)
    assert peer_a.wait_messages(token=f"{t}-a", timeout=POLL + 8), "queue retry ID did not deliver it"
    wait_for(lambda: queue_entry(server, id_a) is None, 10, what=f"{id_a} to leave the queue")
    time.sleep(1)
    assert peer_b.messages == [], "queue retry ID retried another message too"
    assert queue_entry(server, id_b)["status"] == "deferred"

    server.cli("queue", "retry", "--all")
    assert peer_b.wait_messages(token=f"{t}-b", timeout=POLL + 8), "queue retry --all did not deliver"
    wait_for(lambda: queue_entry(server, id_b) is None, 10, what=f"{id_b} to leave the queue")
    assert len(peer_a.messages) == 1 and len(peer_b.messages) == 1


def test_flush(server, test_dns, smtp_peers):
    t = tok()
    domain, peer = busy_domain(test_dns, smtp_peers, t, "flush")
    ids = [send_out(server, f"user{i}@{domain}", f"{t}-{i}")[0] for i in range(2)]
    for qid in ids:
        wait_status(server, qid, "deferred")
    peer.accept_all()
    server.cli("queue", "flush")
    for i in range(2):
        assert peer.wait_messages(token=f"{t}-{i}", timeout=POLL + 8), f"message {i} not delivered after flush"
    wait_for(lambda: all(queue_entry(server, q) is None for q in ids), 10, what="the flushed messages to go")


def test_delete(server, test_dns, smtp_peers):
    t = tok()
    domain, peer = busy_domain(test_dns, smtp_peers, t, "delete")
    qid, _ = send_out(server, f"user@{domain}", t)
    wait_status(server, qid, "deferred")
    server.cli("queue", "delete", qid)
    assert queue_entry(server, qid) is None, "queue delete left the message in the list"
    peer.accept_all()
    server.cli("queue", "flush")
    settle()
    assert peer.messages == [], "a deleted message was delivered"
    again = server.cli("queue", "delete", qid, check=False)
    assert again.returncode != 0, "deleting a message that is not there succeeded"


def test_pause_and_resume(server, test_dns, smtp_peers):
    t = tok()
    domain = f"paused-{t}.test"
    peer = smtp_peers()
    test_dns.mail_domain(domain, [(10, peer.ip)])
    server.cli("queue", "pause")
    try:
        settle()
        qid, _ = send_out(server, f"user@{domain}", t)
        time.sleep(POLL * 3 + 1)
        assert peer.messages == [] and peer.mail_sessions() == [], "delivered while the queue was paused"
        entry = queue_entry(server, qid)
        assert entry is not None and entry["status"] == "paused", entry
    finally:
        server.cli("queue", "resume")
    assert peer.wait_messages(token=t, timeout=POLL + 10), "not delivered after queue resume"
    wait_for(lambda: queue_entry(server, qid) is None, 10, what=f"{qid} to leave the queue")


def test_new_mail_is_attempted_at_once(server_factory, test_dns, loopback, smtp_peers):
    """Mail accepted by the running server does not wait for the next queue scan."""
    srv = server_factory(settings=outbound_settings(test_dns, loopback, queue_poll_secs=300))
    t = tok()
    domain = f"prompt-{t}.test"
    peer = smtp_peers()
    test_dns.mail_domain(domain, [(10, peer.ip)])
    time.sleep(1)  # past the scan at startup
    t0 = time.monotonic()
    send_out(srv, f"user@{domain}", t)
    assert peer.wait_messages(token=t, timeout=10), "not delivered within 10 s with queue_poll_secs 300"
    print(f"delivered {time.monotonic() - t0:.2f} s after acceptance")
    wait_queue_empty(srv, timeout=5)


# --------------------------------------------------------------------------
# DKIM
# --------------------------------------------------------------------------


def dkim_records(srv, domain: str) -> list[dict]:
    res = srv.cli("dkim", "show", domain, "--json")
    records = json.loads(res.stdout)
    assert isinstance(records, list) and records, res.stdout
    return records


def test_dkim_show(server):
    records = dkim_records(server, "example.test")
    assert len(records) == 2, records
    algos = sorted(r["algorithm"].lower() for r in records)
    assert "rsa" in algos[1] and "ed25519" in algos[0], algos
    for r in records:
        assert r["name"] == f"{r['selector']}._domainkey.example.test", r
        assert re.search(r"\bv=DKIM1\b", r["value"]) and re.search(r"\bp=[A-Za-z0-9+/=]{40,}", r["value"]), r
    assert records[0]["selector"] != records[1]["selector"]
    human = server.cli("dkim", "show", "example.test").stdout.strip().splitlines()
    assert len(human) == 2, human
    for line in human:
        assert re.fullmatch(r'\S+\._domainkey\.example\.test IN TXT ".+"', line), line
    for r in records:
        line = next(x for x in human if x.startswith(r["name"] + " "))
        quoted = "".join(re.findall(r'"([^"]*)"', line))
        assert quoted == r["value"], (line, r["value"])


def test_dkim_signatures_verify(server, test_dns, smtp_peers):
    dkim = require_module("dkim")
    require_module("nacl")
    records = {r["name"].lower().rstrip("."): r["value"] for r in dkim_records(server, "example.test")}

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        value = records.get(name.lower().rstrip("."))
        return value.encode() if value is not None else None

    t = tok()
    domain = f"dkim-{t}.test"
    peer = smtp_peers()
    test_dns.mail_domain(domain, [(10, peer.ip)])
    send_out(server, f"user@{domain}", t)
    [m] = peer.wait_messages(token=t)
    content = m.content

    head = content.split(b"\r\n\r\n", 1)[0]
    sigs = re.findall(rb"(?im)^DKIM-Signature:.*(?:\r\n[ \t].*)*", head)
    assert len(sigs) == 2, f"expected two DKIM-Signature fields: {sigs}"
    verified = {}
    for idx in range(len(sigs)):
        d = dkim.DKIM(content)
        ok = d.verify(idx=idx, dnsfunc=dnsfunc)
        algo = d.signature_fields.get(b"a", b"?").decode()
        verified[algo] = ok
        assert d.signature_fields.get(b"d") == b"example.test"
        assert b"from" in [h.strip().lower() for h in d.signature_fields.get(b"h", b"").split(b":")]
    assert verified == {"rsa-sha256": True, "ed25519-sha256": True}, verified

    # A changed body no longer verifies: the check above means something.
    tampered = content.replace(f"Queued message {t}".encode(), f"Altered message {t}".encode())
    for idx in range(2):
        try:
            ok = dkim.DKIM(tampered).verify(idx=idx, dnsfunc=dnsfunc)
        except dkim.ValidationError:  # dkimpy raises on a body hash mismatch
            ok = False
        assert not ok, f"signature {idx} still verifies after the body was changed"


def test_no_dkim_signature_for_foreign_from(server, test_dns, smtp_peers):
    t = tok()
    domain = f"nodkim-{t}.test"
    peer = smtp_peers()
    test_dns.mail_domain(domain, [(10, peer.ip)])
    send_out(server, f"user@{domain}", t, from_header="someone@elsewhere.test")
    [m] = peer.wait_messages(token=t)
    assert not re.search(rb"(?im)^DKIM-Signature:", m.content.split(b"\r\n\r\n", 1)[0]), \
        "signed mail whose From: is not a local domain"


# --------------------------------------------------------------------------
# Clean stop during a delivery
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_during_delivery_sends_once(server_factory, test_dns, loopback, smtp_peers):
    srv = server_factory(settings=outbound_settings(test_dns, loopback, queue_poll_secs=POLL))
    t = tok()
    domain = f"slow-{t}.test"
    peer = smtp_peers(data_delay=3.0)  # holds the reply to the message data for 3 s
    test_dns.mail_domain(domain, [(10, peer.ip)])
    qid, _ = send_out(srv, f"user@{domain}", t)
    assert peer.data_started.wait(15), "the delivery did not start"
    t0 = time.monotonic()
    srv.stop(timeout=30)
    stopped_after = time.monotonic() - t0
    assert len(peer.with_token(t)) == 1, "the peer did not get the message whose delivery was under way"

    peer.data_delay = 0
    srv.start()
    time.sleep(POLL * 3 + 1)
    wait_queue_empty(srv, timeout=10)
    assert len(peer.with_token(t)) == 1, \
        f"{len(peer.with_token(t))} copies after restart (stop took {stopped_after:.1f} s)"
    assert queue_entry(srv, qid) is None


@pytest.mark.slow
def test_kill9_during_delivery_resends_nothing_already_accepted(server_factory, test_dns, loopback, smtp_peers):
    # Two messages leave over one connection. The peer accepts the first at
    # once and holds its answer to the second; the engine is killed (-9) while
    # it waits. The first message was acknowledged by the peer before the
    # crash, so after a restart it must not be sent again; the second, never
    # acknowledged, is sent again (the unavoidable case, RFC 1047).
    srv = server_factory(settings=outbound_settings(test_dns, loopback, queue_poll_secs=POLL))
    t = tok()
    domain = f"crash-{t}.test"
    peer = smtp_peers()
    peer.hold_after, peer.hold_secs = 1, 30.0
    test_dns.mail_domain(domain, [(10, peer.ip)])
    assert srv.cli("queue", "pause").returncode == 0
    first, _ = send_out(srv, f"one@{domain}", f"{t}-1")
    second, _ = send_out(srv, f"two@{domain}", f"{t}-2")
    assert srv.cli("queue", "resume").returncode == 0
    assert peer.held.wait(20), "the second message never reached the peer"
    assert len(peer.with_token(f"{t}-1")) == 1
    time.sleep(0.3)  # the first acceptance is already recorded; make sure of nothing else
    srv.kill9()

    peer.hold_secs = 0.0
    srv.start()
    wait_queue_empty(srv, timeout=30)
    assert len(peer.with_token(f"{t}-1")) == 1, "a message the peer had accepted was sent again after the crash"
    assert len(peer.with_token(f"{t}-2")) >= 1, "the message in flight at the crash was lost"
    assert queue_entry(srv, first) is None and queue_entry(srv, second) is None
