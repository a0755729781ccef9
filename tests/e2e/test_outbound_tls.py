"""STARTTLS policy for outbound delivery: opportunistic, required, verified.

The peers' certificates come from a private CA made with `openssl`; a
server trusts it only when `tls_ca_file` points to it.
"""

from __future__ import annotations

import uuid

import pytest

from conftest import outbound_settings
from mailroom import make_message, queue_entry, wait_for, wait_queue_empty

ALICE = "alice@example.test"


def tok() -> str:
    return uuid.uuid4().hex[:12]


def send_out(srv, rcpt: str, token: str) -> tuple[str, bytes]:
    msg = make_message(ALICE, rcpt, f"tls {token}", f"Is this encrypted? {token}\r\n")
    return srv.deliver([rcpt], msg, sender=ALICE), msg


def wait_deferred(srv, qid: str, timeout: float = 15) -> dict:
    def deferred():
        e = queue_entry(srv, qid)
        return e if e and e["status"] == "deferred" and e.get("last_error") else None
    return wait_for(deferred, timeout, what=f"{qid} to be deferred with an error")


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    from peers import CertAuthority
    return CertAuthority(tmp_path_factory.mktemp("tls-ca"))


def mx_peer(smtp_peers, test_dns, ca, domain: str, tls: bool):
    """A peer that is the MX of `domain` (host name mx1.<domain>), with or without STARTTLS."""
    ip = smtp_peers.loopback.take()
    cert = ca.issue([f"mx1.{domain}"], [ip]) if tls else None
    peer = smtp_peers(ip=ip, hostname=f"mx1.{domain}", tls=cert)
    test_dns.mail_domain(domain, [(10, peer.ip)])
    return peer


def test_required_without_starttls_defers(server_factory, test_dns, loopback, smtp_peers, ca):
    srv = server_factory(settings=outbound_settings(test_dns, loopback, outbound_tls="required",
                                                    retry_schedule="1h"))
    t = tok()
    domain = f"plain-{t}.test"
    peer = mx_peer(smtp_peers, test_dns, ca, domain, tls=False)
    qid, _ = send_out(srv, f"user@{domain}", t)
    entry = wait_deferred(srv, qid)
    assert "tls" in entry["last_error"].lower(), f"last_error does not mention TLS: {entry}"
    assert peer.messages == [] and peer.mail_sessions() == [], "sent in the clear despite outbound_tls=required"
    srv.cli("queue", "delete", qid)


def test_per_domain_policy(server_factory, test_dns, loopback, smtp_peers, ca):
    t = tok()
    strict, lax = f"strict-{t}.test", f"lax-{t}.test"
    strict_peer = mx_peer(smtp_peers, test_dns, ca, strict, tls=False)
    lax_peer = mx_peer(smtp_peers, test_dns, ca, lax, tls=False)
    srv = server_factory(start=False, settings=outbound_settings(test_dns, loopback, retry_schedule="1h"))
    srv.cli("tls-policy", "set", strict, "required")
    listing = srv.cli("tls-policy", "list").stdout
    assert strict in listing and "required" in listing, listing
    srv.start()

    strict_id, _ = send_out(srv, f"user@{strict}", f"{t}-strict")
    send_out(srv, f"user@{lax}", f"{t}-lax")
    [m] = lax_peer.wait_messages(token=f"{t}-lax")
    assert not m.tls  # opportunistic, and the peer offers no STARTTLS
    entry = wait_deferred(srv, strict_id)
    assert "tls" in entry["last_error"].lower(), entry
    assert strict_peer.messages == []
    srv.cli("queue", "delete", strict_id)

    srv.cli("tls-policy", "remove", strict)
    assert strict not in srv.cli("tls-policy", "list").stdout


def test_verified_fails_with_untrusted_certificate(server_factory, test_dns, loopback, smtp_peers, ca):
    srv = server_factory(settings=outbound_settings(test_dns, loopback, outbound_tls="verified",
                                                    retry_schedule="1h"))
    t = tok()
    domain = f"untrusted-{t}.test"
    peer = mx_peer(smtp_peers, test_dns, ca, domain, tls=True)
    qid, _ = send_out(srv, f"user@{domain}", t)
    entry = wait_deferred(srv, qid)
    err = entry["last_error"].lower()
    assert "tls" in err or "certificate" in err, f"last_error does not mention TLS: {entry}"
    assert peer.messages == [], "delivered to a peer whose certificate cannot be verified"
    srv.cli("queue", "delete", qid)


def test_verified_succeeds_with_tls_ca_file(server_factory, test_dns, loopback, smtp_peers, ca):
    srv = server_factory(settings=outbound_settings(test_dns, loopback, outbound_tls="verified",
                                                    tls_ca_file=str(ca.ca_file)))
    t = tok()
    domain = f"trusted-{t}.test"
    peer = mx_peer(smtp_peers, test_dns, ca, domain, tls=True)
    _qid, sent = send_out(srv, f"user@{domain}", t)
    [m] = peer.wait_messages(token=t)
    assert m.tls, "delivered without TLS under outbound_tls=verified"
    assert sent.split(b"\r\n\r\n", 1)[1] == m.content.split(b"\r\n\r\n", 1)[1]
    wait_queue_empty(srv)


def test_opportunistic_uses_tls_when_offered(server_factory, test_dns, loopback, smtp_peers, ca):
    srv = server_factory(settings=outbound_settings(test_dns, loopback))  # default: opportunistic
    t = tok()
    tls_domain, plain_domain = f"offers-tls-{t}.test", f"no-tls-{t}.test"
    tls_peer = mx_peer(smtp_peers, test_dns, ca, tls_domain, tls=True)
    plain_peer = mx_peer(smtp_peers, test_dns, ca, plain_domain, tls=False)
    send_out(srv, f"user@{tls_domain}", f"{t}-tls")
    send_out(srv, f"user@{plain_domain}", f"{t}-plain")
    [m] = tls_peer.wait_messages(token=f"{t}-tls")
    assert m.tls, "STARTTLS was offered (with an unverifiable certificate) but not used"
    [p] = plain_peer.wait_messages(token=f"{t}-plain")
    assert not p.tls
    wait_queue_empty(srv)
