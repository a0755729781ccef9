"""Outbound delivery to MX hosts: routing, retries, bounces.

Mail for a remote domain is injected from loopback (a trusted network) on
port N+25 and must reach the domain's MX hosts, found through the test DNS
server (`dns_servers`) and reached on `remote_smtp_port`. The MX hosts are
scripted aiosmtpd peers, or a private Postfix instance as a real MTA, each
on its own 127.0.0.x address. Bounces are read as the sender would: from
alice's INBOX over POP3.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from conftest import outbound_settings
from mailroom import (
    QUEUED_RE, dsns_with, make_message, queue_entry, queue_list, wait_dsn, wait_for, wait_queue_empty,
)
from peers import PostfixPeer, postfix_available

HOSTNAME = "mailroom-out.test"
ALICE = "alice@example.test"
LOCAL_USERS = ["alice@example.test", "bob@example.test", "carol@example.test"]


def tok() -> str:
    return uuid.uuid4().hex[:12]


def send_out(srv, rcpts: list[str], token: str, sender: str = ALICE, body: bytes | None = None,
             from_header: str = ALICE) -> tuple[str, bytes]:
    """Inject a message from 127.0.0.1 (trusted) on port N+25; returns (queue id, message)."""
    if body is None:
        body = f"Hello from Mailroom, token {token}.\r\n".encode()
    msg = make_message(from_header, rcpts[0], f"outbound {token}", body)
    with srv.smtp("smtp") as c:
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<{sender}>")
        assert r.code == 250, r
        for rcpt in rcpts:
            r = c.cmd(f"RCPT TO:<{rcpt}>")
            assert r.code == 250, f"RCPT {rcpt}: {r}"
        r = c.data(msg)
        m = QUEUED_RE.match(r.lines[0])
        assert m, f"DATA not accepted: {r}"
        c.quit()
    return m.group(1), msg


def unfold(headers: bytes) -> list[bytes]:
    """Header fields of a message, unfolded, one per list item."""
    head = headers.split(b"\r\n\r\n", 1)[0]
    return re.sub(rb"\r\n[ \t]+", b" ", head).split(b"\r\n")


def fields(message: bytes, name: str) -> list[bytes]:
    prefix = name.lower().encode() + b":"
    return [f for f in unfold(message) if f.lower().startswith(prefix)]


@pytest.fixture(scope="module")
def server(server_factory, test_dns, loopback):
    return server_factory(settings=outbound_settings(test_dns, loopback))


@pytest.fixture(scope="module")
def postfix_peer(test_dns, loopback):
    reason = postfix_available()
    if reason:
        pytest.fail(f"{reason}; run scripts/install-test-deps", pytrace=False)
    d = Path(tempfile.mkdtemp(prefix="mailroom-postfix-peer-"))
    os.chmod(d, 0o755)
    ip = loopback.take()
    pf = PostfixPeer(d, ip, loopback.port, domain="postfix-peer.test")
    try:
        pf.start()
        test_dns.mail_domain(pf.domain, [(10, ip)])
        yield pf
    finally:
        pf.stop()
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------
# Delivered
# --------------------------------------------------------------------------


def test_delivery_into_postfix_via_mx(server, postfix_peer):
    t = tok()
    body = (
        f"Line one {t}\r\n"
        ".a line that starts with a dot\r\n"
        "..two dots\r\n"
        "\r\n"
        + "A longer line of text to make the body more than a few bytes. " * 10 + "\r\n"
        + "".join(f"line {i:04d} of the message body\r\n" for i in range(300))
        + "last line\r\n"
    ).encode()
    _qid, sent = send_out(server, [f"bob@{postfix_peer.domain}"], t, body=body)

    hits = postfix_peer.wait_messages(t, timeout=20)
    assert hits, f"nothing arrived at the Postfix peer\n{postfix_peer.log_text()[-3000:]}"
    got = hits[0]
    head, _, got_body = got.partition(b"\r\n\r\n")
    assert got_body == body, "the body did not arrive intact"

    # The original header fields are all there.
    for line in sent.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        assert line in head.split(b"\r\n"), f"header {line!r} missing at the peer"
    # Our Received field (added when we accepted the message), and Postfix's
    # Received field names our EHLO host name.
    received = fields(got, "Received")
    assert any(re.search(rb"\bby " + re.escape(HOSTNAME.encode()) + rb"\b", r) for r in received), received
    assert any(re.search(rb"\bfrom " + re.escape(HOSTNAME.encode()) + rb"\b", r) and b"Postfix" in r
               for r in received), f"Postfix did not see EHLO {HOSTNAME}: {received}"
    sigs = fields(got, "DKIM-Signature")
    assert len(sigs) == 2, f"expected two DKIM-Signature fields, got {sigs}"
    algos = sorted(re.search(rb"\ba=([\w-]+)", s).group(1).decode() for s in sigs)
    assert algos == ["ed25519-sha256", "rsa-sha256"], algos
    assert all(re.search(rb"\bd=example\.test\b", s) for s in sigs), sigs

    wait_queue_empty(server)
    time.sleep(1.5)
    assert len(postfix_peer.wait_messages(t, timeout=0)) == 1, "delivered more than once"


def test_mx_preference_order(server, test_dns, smtp_peers):
    t = tok()
    domain = f"pref-{t}.test"
    primary, backup = smtp_peers(), smtp_peers()
    # Listed backup first: the order in DNS must not matter, the preference does.
    test_dns.set(f"mx-a.{domain}", A=[backup.ip])
    test_dns.set(f"mx-b.{domain}", A=[primary.ip])
    test_dns.set(domain, MX=[(20, f"mx-a.{domain}"), (10, f"mx-b.{domain}")])
    for i in range(3):
        send_out(server, [f"user{i}@{domain}"], f"{t}-{i}")
    for i in range(3):
        assert primary.wait_messages(token=f"{t}-{i}"), f"message {i} did not reach the preferred MX"
    wait_queue_empty(server)
    assert backup.messages == [] and backup.mail_sessions() == [], "the backup MX was used although the primary works"


def test_backup_mx_used_when_primary_refuses_connections(server, test_dns, smtp_peers, loopback):
    t = tok()
    domain = f"backup-{t}.test"
    dead_ip = loopback.take()  # nothing listens there: connection refused
    backup = smtp_peers()
    test_dns.mail_domain(domain, [(10, dead_ip), (20, backup.ip)])
    send_out(server, [f"user@{domain}"], t)
    [m] = backup.wait_messages(token=t, timeout=15)
    assert m.rcpt_tos == [f"user@{domain}"]
    wait_queue_empty(server)


def test_a_record_fallback_without_mx(server, test_dns, smtp_peers):
    t = tok()
    domain = f"bare-{t}.test"
    peer = smtp_peers()
    test_dns.set(domain, A=[peer.ip])  # no MX at all
    send_out(server, [f"user@{domain}"], t)
    [m] = peer.wait_messages(token=t)
    assert m.rcpt_tos == [f"user@{domain}"]
    assert m.mail_from == ALICE
    wait_queue_empty(server)


def test_recipients_at_one_domain_share_one_session(server, test_dns, smtp_peers):
    t = tok()
    domain = f"multi-{t}.test"
    peer = smtp_peers()
    test_dns.mail_domain(domain, [(10, peer.ip)])
    rcpts = [f"first@{domain}", f"second@{domain}"]
    send_out(server, rcpts, t)
    [m] = peer.wait_messages(token=t)
    wait_queue_empty(server)
    time.sleep(1)
    assert sorted(m.rcpt_tos) == sorted(rcpts)
    sessions = peer.mail_sessions()
    assert len(sessions) == 1, f"expected one SMTP session, saw {sessions}"
    assert sorted(a for a, code in sessions[0].rcpts) == sorted(rcpts)
    assert len(peer.messages) == 1, "the message was sent more than once"
    assert sessions[0].helo == HOSTNAME, f"EHLO name {sessions[0].helo!r}, expected the hostname setting"


def test_4xx_twice_then_delivered_on_third_attempt(server, test_dns, smtp_peers):
    t = tok()
    domain = f"grey-{t}.test"
    rcpt = f"user@{domain}"
    peer = smtp_peers()
    peer.on_rcpt("450 4.2.0 Greylisted, please try again later", times=2)
    test_dns.mail_domain(domain, [(10, peer.ip)])
    send_out(server, [rcpt], t)
    [m] = peer.wait_messages(token=t, timeout=30)
    assert m.rcpt_tos == [rcpt]
    assert [code for _a, code in peer.rcpt_attempts(rcpt)] == [450, 450, 250]
    wait_queue_empty(server)
    assert not dsns_with(server, ALICE, t), "a temporary failure produced a DSN"


# --------------------------------------------------------------------------
# Bounced
# --------------------------------------------------------------------------


def check_failed_dsn(dsn, rcpt: str, token: str, status_prefix: str = "5.") -> dict:
    assert dsn.return_path == b"", f"DSN not sent from <>: Return-Path <{dsn.return_path!r}>"
    [r] = [g for g in dsn.per_recipient if g.get("final-recipient", "").lower().endswith(rcpt.lower())]
    assert r["action"].lower() == "failed", r
    assert r.get("status", "").startswith(status_prefix), r
    assert re.fullmatch(r"rfc822;\s*" + re.escape(rcpt), r["final-recipient"], re.I), r
    assert f"Subject: outbound {token}" in dsn.returned_headers, \
        f"original headers not returned: {dsn.returned_headers[:1000]!r}"
    assert dsn.human.strip(), "no human-readable part"
    return r


def test_5xx_bounces_to_local_sender(server, test_dns, smtp_peers):
    t = tok()
    domain = f"reject-{t}.test"
    rcpt = f"nobody@{domain}"
    peer = smtp_peers()
    reply_text = f"5.1.1 <{rcpt}>: Recipient address rejected: no mailbox {t}"
    peer.on_rcpt(f"550 {reply_text}")
    test_dns.mail_domain(domain, [(10, peer.ip)])
    _qid, sent = send_out(server, [rcpt], t)

    dsn = wait_dsn(server, ALICE, t, "failed", timeout=20)
    r = check_failed_dsn(dsn, rcpt, t)
    assert r["status"] == "5.1.1", r
    diag = r.get("diagnostic-code", "")
    assert "550" in diag and f"no mailbox {t}" in diag, f"remote reply missing from Diagnostic-Code: {diag!r}"
    message_id = re.search(rb"Message-ID: (<[^>]+>)", sent).group(1).decode()
    assert message_id in dsn.returned_headers
    assert f"From: <{ALICE}>" in dsn.returned_headers
    # Plain language, English then Russian.
    cyrillic = re.search(r"[\u0400-\u04FF]", dsn.human)
    latin = re.search(r"[A-Za-z]{4,}", dsn.human)
    assert latin and cyrillic and latin.start() < cyrillic.start(), \
        f"expected English then Russian text: {dsn.human[:600]!r}"
    assert peer.messages == []
    wait_queue_empty(server)
    time.sleep(1)
    assert len(dsns_with(server, ALICE, t)) == 1, "more than one DSN"
    # RFC 3464: the diagnostic type is "smtp" when the text is the remote SMTP reply.
    assert re.fullmatch(r"smtp;\s*550 " + re.escape(reply_text), diag, re.I), \
        f"Diagnostic-Code should be 'smtp; <the remote reply>', got {diag!r}"


@pytest.mark.slow
def test_unreachable_host_delay_warning_then_bounce_at_expiry(server_factory, test_dns, loopback):
    srv = server_factory(settings=outbound_settings(
        test_dns, loopback, max_queue_lifetime="6s", delay_warning_after="2s"))
    t = tok()
    domain = f"down-{t}.test"
    rcpt = f"user@{domain}"
    test_dns.mail_domain(domain, [(10, loopback.take())])  # nothing listens there
    qid, _ = send_out(srv, [rcpt], t)
    attempts_seen = 0
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline:
        entry = queue_entry(srv, qid)
        if entry is None:
            break
        assert entry["status"] in ("queued", "deferred"), entry
        attempts_seen = max(attempts_seen, int(entry["attempts"]))
        time.sleep(0.3)
    else:
        raise AssertionError(f"still queued 25 s after a 6 s max_queue_lifetime: {queue_entry(srv, qid)}")
    assert attempts_seen >= 2, f"only {attempts_seen} attempt(s) seen with retry_schedule 1s"

    delayed = wait_dsn(srv, ALICE, t, "delayed", timeout=10)
    failed = wait_dsn(srv, ALICE, t, "failed", timeout=10)
    [d] = delayed.per_recipient
    assert d["status"].startswith("4."), d
    assert re.fullmatch(r"rfc822;\s*" + re.escape(rcpt), d["final-recipient"], re.I), d
    assert delayed.return_path == b""
    check_failed_dsn(failed, rcpt, t)
    time.sleep(2)
    all_dsns = dsns_with(srv, ALICE, t)
    assert [x.actions for x in all_dsns] == [["delayed"], ["failed"]], \
        f"expected one delay warning, then one bounce: {[x.actions for x in all_dsns]}"


def test_null_mx_bounces_at_once(server, test_dns):
    t = tok()
    domain = f"nullmx-{t}.test"
    test_dns.null_mx(domain)
    t0 = time.monotonic()
    send_out(server, [f"user@{domain}"], t)
    # retry_schedule is 1s and max_queue_lifetime the default 5d: a bounce
    # within seconds means the engine took the null MX as permanent.
    dsn = wait_dsn(server, ALICE, t, "failed", timeout=10)
    r = check_failed_dsn(dsn, f"user@{domain}", t)
    assert time.monotonic() - t0 < 10
    wait_queue_empty(server)
    print(f"null MX status: {r['status']}")


def test_nxdomain_bounces(server, test_dns):
    t = tok()
    domain = f"nonexistent-{t}.test"  # the test DNS answers NXDOMAIN
    send_out(server, [f"user@{domain}"], t)
    dsn = wait_dsn(server, ALICE, t, "failed", timeout=10)
    check_failed_dsn(dsn, f"user@{domain}", t)
    wait_queue_empty(server)


def test_mail_loop_to_ourselves_bounces(server, test_dns, smtp_peers):
    t = tok()
    domain = f"loop-{t}.test"
    peer = smtp_peers(hostname=HOSTNAME)  # the MX greets with our own name
    test_dns.mail_domain(domain, [(10, peer.ip)])
    send_out(server, [f"user@{domain}"], t)
    dsn = wait_dsn(server, ALICE, t, "failed", timeout=15)
    r = check_failed_dsn(dsn, f"user@{domain}", t)
    assert r["status"] == "5.4.6", r
    assert peer.messages == [], "the message was sent to a host that is ourselves"
    wait_queue_empty(server)


def test_no_bounce_for_null_sender(server, test_dns, smtp_peers):
    t = tok()
    domain = f"nullsender-{t}.test"
    rcpt = f"user@{domain}"
    peer = smtp_peers()
    peer.on_rcpt(f"550 5.1.1 no such user {t}")
    test_dns.mail_domain(domain, [(10, peer.ip)])
    qid, _ = send_out(server, [rcpt], t, sender="")
    wait_for(lambda: peer.rcpt_attempts(rcpt), 15, what="the delivery attempt")
    wait_queue_empty(server)
    time.sleep(3)
    assert queue_entry(server, qid) is None
    assert [e for e in queue_list(server) if not e.get("sender")] == [], "a message from <> is still queued"
    for user in LOCAL_USERS:
        hits = [m for m in server.mailbox(user) if t.encode() in m]
        assert hits == [], f"{user} got mail about a failed null-sender message"
    assert peer.messages == []
    assert len(peer.rcpt_attempts(rcpt)) == 1, "a permanent failure was retried"
