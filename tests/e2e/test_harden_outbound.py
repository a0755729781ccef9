"""Hardening of outbound delivery: what hostile or unlucky mail cannot do.

* A header that is not ASCII cannot wedge the queue (it used to panic the
  delivery task and leave its rows `sending` for good).
* A logged-in user cannot put another user's (or another of our domains')
  address in `From:`; and our DKIM key signs only mail whose `From:` was
  checked on its way in, never outside mail forwarded by an alias.
* An MX pointing at loopback or a private network is refused, with a plain
  sentence in the queue, unless `outbound_allowed_internal_networks` says so.
* No bounce for auto-generated mail, and a bounce never quotes a big body.

Peers are aiosmtpd servers on 127.0.0.x, found through the test DNS server,
as in test_outbound_delivery.py; those servers allow 127.0.0.0/8 as a target
with `outbound_allowed_internal_networks`.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest

from conftest import outbound_settings, require_module
from mailroom import PASSWORDS, QUEUED_RE, dsns_with, make_message, queue_entry, wait_dsn, wait_for

ALICE = "alice@example.test"
BOB = "bob@example.test"
SECOND = "second.test"


def tok() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def server(server_factory, test_dns, loopback):
    srv = server_factory(settings=outbound_settings(test_dns, loopback))
    srv.cli("domain", "add", SECOND)
    return srv


@pytest.fixture(scope="module")
def outside_server(server_factory, test_dns, loopback):
    """A server for which 127.0.0.1 is an ordinary outside client (no relay)."""
    srv = server_factory(start=False, settings=outbound_settings(test_dns, loopback,
                                                                 trusted_networks="192.0.2.1/32"))
    srv.cli("iprange", "add", "127.0.0.1", "allow", "--priority", "1", "--note", "outside client")
    return srv.start()


@pytest.fixture(scope="module")
def strict_server(server_factory, test_dns, loopback):
    """Outbound settings but no internal networks allowed as targets."""
    settings = outbound_settings(test_dns, loopback)
    settings.pop("outbound_allowed_internal_networks", None)
    return server_factory(settings=settings)


def remote_domain(test_dns, smtp_peers, name: str):
    t = tok()
    domain = f"{name}-{t}.test"
    peer = smtp_peers()
    test_dns.mail_domain(domain, [(10, peer.ip)])
    return domain, peer


def wait_gone(srv, qid: str, timeout: float = 20) -> None:
    try:
        wait_for(lambda: queue_entry(srv, qid) is None, timeout, interval=0.2, what=f"{qid} to leave the queue")
    except AssertionError as e:
        raise AssertionError(f"{e}; entry: {queue_entry(srv, qid)}") from None


def inject(srv, sender: str, rcpts: list[str], message: bytes) -> str:
    """Port N+25 from 127.0.0.1; returns the queue id."""
    with srv.smtp("smtp") as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{sender}>").code == 250
        for rcpt in rcpts:
            r = c.cmd(f"RCPT TO:<{rcpt}>")
            assert r.code == 250, f"RCPT {rcpt}: {r}"
        r = c.data(message)
        m = QUEUED_RE.match(r.lines[0])
        assert m, f"DATA not accepted: {r}"
        c.quit()
    return m.group(1)


def submit(srv, user: str, rcpt: str, message: bytes):
    """Logged-in submission on port N+587; returns the reply to the message."""
    with srv.smtp("submission") as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        r = c.auth_plain(user, PASSWORDS[user])
        assert r.code == 235, r
        assert c.cmd(f"MAIL FROM:<{user}>").code == 250
        r = c.cmd(f"RCPT TO:<{rcpt}>")
        assert r.code == 250, r
        reply = c.data(message)
        c.quit()
    return reply


def dkim_signatures(content: bytes) -> list[bytes]:
    head = content.split(b"\r\n\r\n", 1)[0]
    return re.findall(rb"(?im)^DKIM-Signature:.*(?:\r\n[ \t].*)*", head)


def dkim_verifier(srv, domain: str):
    dkim = require_module("dkim")
    require_module("nacl")
    res = srv.cli("dkim", "show", domain, "--json")
    import json
    records = {r["name"].lower().rstrip("."): r["value"] for r in json.loads(res.stdout)}

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        value = records.get(name.lower().rstrip("."))
        return value.encode() if value is not None else None

    def verify(content: bytes) -> dict:
        out = {}
        for idx in range(len(dkim_signatures(content))):
            d = dkim.DKIM(content)
            ok = d.verify(idx=idx, dnsfunc=dnsfunc)
            out[d.signature_fields.get(b"a", b"?").decode()] = (ok, d.signature_fields.get(b"d", b"").decode())
        return out

    return verify


# --------------------------------------------------------------------------
# 1. A non-ASCII header before From: no longer wedges the queue
# --------------------------------------------------------------------------


def test_non_ascii_header_before_from_is_delivered(server, test_dns, smtp_peers):
    t = tok()
    domain, peer = remote_domain(test_dns, smtp_peers, "utf8")
    msg = (
        "Grüße: x\r\n"
        f"From: <{ALICE}>\r\nTo: <user@{domain}>\r\nSubject: umlaut {t}\r\n"
        f"\r\nHallo {t}\r\n"
    ).encode()
    qid = inject(server, ALICE, [f"user@{domain}"], msg)
    got = peer.wait_messages(token=t, timeout=20)
    assert got, f"not delivered; queue entry: {queue_entry(server, qid)}"
    assert got[0].content.endswith(f"Hallo {t}\r\n".encode())
    wait_gone(server, qid)


# --------------------------------------------------------------------------
# 2. From: of a logged-in user, and what our DKIM key signs
# --------------------------------------------------------------------------


def test_submission_refuses_from_of_another_user(server, test_dns, smtp_peers):
    t = tok()
    domain, peer = remote_domain(test_dns, smtp_peers, "forged")
    r = submit(server, ALICE, f"user@{domain}", make_message(BOB, f"user@{domain}", f"forged {t}", "hi"))
    assert r.code == 550 and r.lines[0].startswith("550 5.7.1"), r
    assert BOB in r.text, r
    assert not peer.wait_messages(token=t, timeout=2), "the forged message was sent"


def test_submission_refuses_from_of_another_local_domain(server, test_dns, smtp_peers):
    t = tok()
    domain, peer = remote_domain(test_dns, smtp_peers, "forged2")
    msg = make_message(f"ceo@{SECOND}", f"user@{domain}", f"forged {t}", "hi")
    r = submit(server, ALICE, f"user@{domain}", msg)
    assert r.code == 550 and r.lines[0].startswith("550 5.7.1"), r
    # A second From: field counts as much as the first.
    msg = f"From: <{ALICE}>\r\n".encode() + make_message(f"ceo@{SECOND}", f"user@{domain}", f"forged {t}", "hi")
    r = submit(server, ALICE, f"user@{domain}", msg)
    assert r.code == 550 and r.lines[0].startswith("550 5.7.1"), r
    assert not peer.wait_messages(token=t, timeout=2), "the forged message was sent"


def test_submission_own_from_is_signed(server, test_dns, smtp_peers):
    t = tok()
    domain, peer = remote_domain(test_dns, smtp_peers, "signed")
    msg = make_message(ALICE, f"user@{domain}", f"own {t}", f"Signed message {t}.")
    r = submit(server, ALICE, f"user@{domain}", msg)
    assert r.code == 250, r
    [m] = peer.wait_messages(token=t)
    verified = dkim_verifier(server, "example.test")(m.content)
    assert verified == {"rsa-sha256": (True, "example.test"), "ed25519-sha256": (True, "example.test")}, verified


def test_outside_mail_forwarded_by_alias_is_not_signed(outside_server, test_dns, smtp_peers):
    srv = outside_server
    t = tok()
    domain, peer = remote_domain(test_dns, smtp_peers, "fwd")
    srv.cli("alias", "add", f"fwd-{t}@example.test", f"user@{domain}")
    msg = make_message("ceo@example.test", f"fwd-{t}@example.test", f"forwarded {t}", f"From outside {t}.")
    with srv.smtp("smtp") as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<someone@outside.test>").code == 250
        # The client really is an outsider here: no relay for it.
        assert c.cmd(f"RCPT TO:<user@{domain}>").code == 554
        assert c.cmd(f"RCPT TO:<fwd-{t}@example.test>").code == 250
        r = c.data(msg)
        assert r.code == 250, r
        c.quit()
    [m] = peer.wait_messages(token=t)
    sigs = dkim_signatures(m.content)
    assert not sigs, f"outside mail forwarded out carries our DKIM signature: {sigs}"


def test_outside_forward_own_mail_still_signed(outside_server, test_dns, smtp_peers):
    """The same server signs what alice submits herself (the test above means something)."""
    t = tok()
    domain, peer = remote_domain(test_dns, smtp_peers, "fwdok")
    r = submit(outside_server, ALICE, f"user@{domain}", make_message(ALICE, f"user@{domain}", f"own {t}", "x"))
    assert r.code == 250, r
    [m] = peer.wait_messages(token=t)
    assert len(dkim_signatures(m.content)) == 2


# --------------------------------------------------------------------------
# 9. MX records pointing inside
# --------------------------------------------------------------------------


def test_mx_pointing_at_loopback_is_refused(strict_server, test_dns, smtp_peers):
    srv = strict_server
    t = tok()
    domain, peer = remote_domain(test_dns, smtp_peers, "inside")
    qid = inject(srv, ALICE, [f"user@{domain}"], make_message(ALICE, f"user@{domain}", f"inside {t}", "x"))

    def refused():
        e = queue_entry(srv, qid)
        if e is None:
            return "gone"
        text = str(e)
        return text if "private" in text or "loopback" in text else None

    why = wait_for(refused, 20, what="the queue to say why the MX was refused")
    if why == "gone":
        # Refused for good: the sender hears why.
        dsn = wait_dsn(srv, ALICE, t)
        assert "loopback" in dsn.human or "private" in dsn.human, dsn.human
    else:
        assert peer.ip in why or "127.0.0." in why, why
    assert not peer.messages, "delivered to a loopback address"


# --------------------------------------------------------------------------
# 11. Backscatter: no bounce for auto-generated mail, small bounces
# --------------------------------------------------------------------------


def test_no_bounce_for_auto_submitted_mail(server, test_dns, smtp_peers):
    t_auto, t_plain = tok(), tok()
    domain, peer = remote_domain(test_dns, smtp_peers, "nobody")
    peer.on_rcpt("550 5.1.1 no such user here")
    auto = make_message(ALICE, f"user@{domain}", f"auto {t_auto}", "I am away.",
                        extra_headers=b"Auto-Submitted: auto-replied\r\n")
    q_auto = inject(server, ALICE, [f"user@{domain}"], auto)
    plain = make_message(ALICE, f"user@{domain}", f"plain {t_plain}", "Hello.")
    inject(server, ALICE, [f"user@{domain}"], plain)
    # The ordinary message bounces: the one about the auto-reply would have come by now.
    wait_dsn(server, ALICE, t_plain)
    wait_gone(server, q_auto)
    assert dsns_with(server, ALICE, t_auto) == [], "bounced an auto-generated message"


def test_bounce_of_a_big_message_is_small(server, test_dns, smtp_peers):
    t = tok()
    domain, peer = remote_domain(test_dns, smtp_peers, "bigfail")
    peer.on_data("554 5.6.0 content refused")
    line = b"x" * 76 + b"\r\n"
    body = f"Big message {t}\r\n".encode() + line * (5 * 1024 * 1024 // len(line))
    # Big headers too: a bounce quotes headers, and only so many of them.
    filler = b"".join(b"X-Filler-%d: " % i + b"y" * 900 + b"\r\n" for i in range(1000))
    message = make_message(ALICE, f"user@{domain}", f"big {t}", body, extra_headers=filler)
    inject(server, ALICE, [f"user@{domain}"], message)
    dsn = wait_dsn(server, ALICE, t, timeout=40)
    assert len(dsn.raw) < 100 * 1024, f"the bounce of a 5 MB message is {len(dsn.raw)} bytes"
    assert t in dsn.returned_headers, "the bounce does not show the original headers"


def test_only_the_first_mx_hosts_are_tried(server, test_dns, smtp_peers, loopback):
    t = tok()
    domain = f"manymx-{t}.test"
    dead1, dead2 = loopback.take(), loopback.take()  # nothing listens there
    peer = smtp_peers()
    test_dns.mail_domain(domain, [(10, dead1), (20, dead2), (30, peer.ip)])
    server.cli("settings", "set", "outbound_max_mx_hosts", "2")
    time.sleep(3)  # the running server picks settings changed by the CLI up within 2 s
    try:
        qid = inject(server, ALICE, [f"user@{domain}"], make_message(ALICE, f"user@{domain}", f"mx {t}", "x"))
        entry = wait_for(lambda: (e := queue_entry(server, qid)) and e.get("last_error") and e,
                         20, what="a first attempt")
        assert dead1 in entry["last_error"] or dead2 in entry["last_error"], entry
        assert not peer.messages, "the third mail host was tried although only two may be"
    finally:
        server.cli("settings", "set", "outbound_max_mx_hosts", "5")
    assert peer.wait_messages(token=t, timeout=20), f"not delivered once 5 hosts may be tried: {queue_entry(server, qid)}"


def test_limits_are_listed_with_plain_descriptions(server):
    listing = server.cli("settings", "list").stdout
    for key in ("outbound_allowed_internal_networks", "outbound_max_mx_hosts", "outbound_max_addresses_per_host"):
        line = next((ln for ln in listing.splitlines() if ln.startswith(key)), "")
        assert len(line.split()) > 4, f"{key} missing or without a description: {line!r}"
