"""Outbound delivery through a relay (smarthost), for every domain or one.

`relay set` is done before `serve` starts. The relay is a scripted aiosmtpd
peer on a loopback address, with STARTTLS (a certificate from a private CA)
and AUTH where the test needs them.
"""

from __future__ import annotations

import json
import uuid

import pytest

from conftest import outbound_settings
from mailroom import make_message, queue_list, wait_for, wait_queue_empty
from peers import CertAuthority

ALICE = "alice@example.test"


def tok() -> str:
    return uuid.uuid4().hex[:12]


def send_out(srv, rcpt: str, token: str) -> bytes:
    msg = make_message(ALICE, rcpt, f"relayed {token}", f"Sent through a relay, {token}.\r\n")
    srv.deliver([rcpt], msg, sender=ALICE)
    return msg


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return CertAuthority(tmp_path_factory.mktemp("relay-ca"))


def test_smarthost_with_auth_over_starttls(server_factory, test_dns, loopback, smtp_peers, ca):
    t = tok()
    password = f"Relay-Secret-{t}"
    ip = loopback.take()
    relay = smtp_peers(ip=ip, hostname="smarthost.test", tls=ca.issue(["smarthost.test"], [ip]),
                       auth={"relayuser": password})
    srv = server_factory(start=False, settings=outbound_settings(test_dns, loopback))
    set_res = srv.cli("relay", "set", ip, "--port", str(loopback.port), "--tls", "required",
                      "--user", "relayuser", "--password", password)
    listing = srv.cli("relay", "list")
    assert ip in listing.stdout, f"relay list does not show the relay: {listing.stdout!r}"
    srv.start()

    # A domain that is not in DNS at all: only the relay can take it.
    rcpt = f"someone@far-away-{t}.test"
    sent = send_out(srv, rcpt, t)
    [m] = relay.wait_messages(token=t, timeout=20)
    # Our trace (and signature) fields go in front; the message itself is unchanged.
    assert m.content.endswith(sent), f"the message changed on the way: {m.content[:1500]!r}"
    assert m.rcpt_tos == [rcpt] and m.mail_from == ALICE
    assert m.tls, "the relay session was not encrypted"
    assert m.login == "relayuser", f"logged in as {m.login!r}"
    assert ("relayuser", password, True) in relay.logins, relay.logins
    wait_queue_empty(srv)

    listing = srv.cli("relay", "list")
    srv.stop()
    for where, text in [("relay set stdout", set_res.stdout), ("relay set stderr", set_res.stderr),
                        ("relay list stdout", listing.stdout), ("relay list stderr", listing.stderr),
                        ("server log", srv.log_text())]:
        assert password not in text, f"the relay password appears in the {where}"


def test_relay_login_failure_does_not_leak_password(server_factory, test_dns, loopback, smtp_peers, ca):
    """The relay refuses the login: the message is not delivered (deferred or
    bounced), and the configured password shows up nowhere."""
    t = tok()
    wrong = f"Wrong-Secret-{t}"
    ip = loopback.take()
    relay = smtp_peers(ip=ip, tls=ca.issue(["smarthost.test"], [ip]), auth={"relayuser": "right"})
    srv = server_factory(start=False, settings=outbound_settings(test_dns, loopback, retry_schedule="1h"))
    srv.cli("relay", "set", ip, "--port", str(loopback.port), "--tls", "required",
            "--user", "relayuser", "--password", wrong)
    srv.start()
    send_out(srv, f"someone@far-away-{t}.test", t)
    wait_for(lambda: relay.logins, 15, what="a login attempt at the relay")
    assert relay.logins[0][:2] == ("relayuser", wrong), "the relay did not get the configured credentials"

    def settled():
        q = queue_list(srv)
        return (q and q[0]["status"] == "deferred" and q[0].get("last_error")) or (not q and "gone")
    state = wait_for(settled, 15, what="the message to be deferred or bounced")
    assert relay.messages == []
    assert not any(ok for _u, _p, ok in relay.logins)
    assert wrong not in json.dumps(queue_list(srv)), "the password appears in the queue listing"
    assert all(wrong.encode() not in m for m in srv.mailbox(ALICE)), "the password appears in a DSN"
    srv.stop()
    assert wrong not in srv.log_text(), "the password appears in the server log"
    print(f"after a refused relay login the message was {'bounced' if state == 'gone' else 'deferred'}")


def test_relay_for_one_domain_only(server_factory, test_dns, loopback, smtp_peers):
    t = tok()
    relayed, direct = f"relayed-{t}.test", f"direct-{t}.test"
    relay, mx = smtp_peers(hostname="domain-relay.test"), smtp_peers(hostname="mx.test")
    test_dns.mail_domain(direct, [(10, mx.ip)])
    # `relayed` has no DNS records: only the relay can deliver it.
    srv = server_factory(start=False, settings=outbound_settings(test_dns, loopback))
    srv.cli("relay", "set", "--domain", relayed, relay.ip, "--port", str(loopback.port), "--tls", "none")
    listing = srv.cli("relay", "list").stdout
    assert relayed in listing and relay.ip in listing, listing
    srv.start()

    send_out(srv, f"a@{relayed}", f"{t}-relayed")
    send_out(srv, f"b@{direct}", f"{t}-direct")
    assert relay.wait_messages(token=f"{t}-relayed"), "mail for the relayed domain did not reach the relay"
    assert mx.wait_messages(token=f"{t}-direct"), "mail for another domain did not go to its MX"
    wait_queue_empty(srv)
    assert relay.with_token(f"{t}-direct") == [], "the per-domain relay took mail for another domain"
    assert mx.with_token(f"{t}-relayed") == []

    srv.cli("relay", "remove", "--domain", relayed)
    assert relayed not in srv.cli("relay", "list").stdout
