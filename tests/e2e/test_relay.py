"""Open-relay protection, seen from a client that is not on a trusted network.

Every connection from loopback is trusted by default (127.0.0.0/8), so the
untrusted client needs another address. The module builds a network
namespace joined to the host by a veth pair:

    host  mrh<x>  10.213.<x>.1/30  <-- veth -->  10.213.<x>.2/30  mrn<x>  namespace mrns<x>

The server runs *inside* the namespace, bound to 10.213.<x>.2, and the test
client connects from the host side, 10.213.<x>.1, which is not trusted.
Running the server in the namespace (rather than the client) also means
that mail it accepts for remote.test cannot leave the machine: the
namespace has no route beyond the /30 and its resolver points at its own
loopback.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from mailroom import PASSWORDS, QUEUED_RE, RawSMTP, make_message, retr_all, split_trace

ALICE = "alice@example.test"
REMOTE = "someone@remote.test"
SENDER = "stranger@elsewhere.test"


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def netns():
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.fail("the relay tests build network namespaces: they need root and iproute2", pytrace=False)
    existing = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    for _ in range(50):
        x = random.randint(1, 254)
        if f"mrh{x}:" not in existing and f"mrh{x}@" not in existing \
                and not Path(f"/var/run/netns/mrns{x}").exists():
            break
    ns, host_if, ns_if = f"mrns{x}", f"mrh{x}", f"mrn{x}"
    host_ip, ns_ip = f"10.213.{x}.1", f"10.213.{x}.2"
    etc = Path(f"/etc/netns/{ns}")
    try:
        try:
            run("ip", "netns", "add", ns)
        except subprocess.CalledProcessError as e:
            pytest.fail(f"cannot create a network namespace here: {e.stderr.strip()}", pytrace=False)
        # Resolver inside the namespace: its own loopback, where nothing listens.
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
        run("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        run("ip", "link", "set", ns_if, "netns", ns)
        run("ip", "addr", "add", f"{host_ip}/30", "dev", host_if)
        run("ip", "link", "set", host_if, "up")
        run("ip", "netns", "exec", ns, "ip", "addr", "add", f"{ns_ip}/30", "dev", ns_if)
        run("ip", "netns", "exec", ns, "ip", "link", "set", ns_if, "up")
        run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield {"ns": ns, "host_ip": host_ip, "ns_ip": ns_ip}
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(etc, ignore_errors=True)


@pytest.fixture(scope="module")
def server(netns, server_factory):
    # netns first, so that the server is stopped before the namespace goes.
    return server_factory(bind=netns["ns_ip"], netns=netns["ns"])


def client(server, netns, name="smtp") -> RawSMTP:
    host, port = server.addr(name)
    assert host == netns["ns_ip"], server.listeners
    return RawSMTP(host, port, implicit_tls=(name == "submissions"), source=netns["host_ip"])


def wait_token(server, user, token):
    deadline = time.monotonic() + 10
    while True:
        p = server.pop3(user)
        try:
            hits = [m for m in retr_all(p) if token.encode() in m]
        finally:
            p.quit()
        if hits or time.monotonic() > deadline:
            return hits
        time.sleep(0.1)


def test_listeners_are_on_the_namespace_address(server, netns):
    for name in ("smtp", "submission", "submissions", "pop3", "pop3s"):
        assert server.addr(name)[0] == netns["ns_ip"], server.listeners


def test_relay_refused_for_untrusted_client(server, netns):
    t = uuid.uuid4().hex
    msg = make_message(SENDER, ALICE, f"relay {t}", t)
    with client(server, netns) as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        r = c.cmd(f"RCPT TO:<{REMOTE}>")
        assert r.startswith("554 5.7.1"), r
        r = c.cmd(f"RCPT TO:<{ALICE}>")
        assert r.code == 250, r
        assert c.data(msg).startswith("250 2.0.0 Ok: queued as ")
        # Still refused later in the session, and with an odd spelling.
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert c.cmd("RCPT TO:<Someone@REMOTE.test>").startswith("554 5.7.1")
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        c.quit()
    [stored] = wait_token(server, ALICE, t)
    assert split_trace(stored)[2] == msg


def test_relay_refused_also_after_starttls(server, netns):
    with client(server, netns) as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        r = c.cmd(f"RCPT TO:<{REMOTE}>")
        assert r.startswith("554 5.7.1"), r


def test_authenticated_submission_may_relay(server, netns):
    with client(server, netns, "submission") as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        assert c.auth_plain(ALICE, PASSWORDS[ALICE]).startswith("235")
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
        r = c.cmd(f"RCPT TO:<{REMOTE}>")
        assert r.code == 250, r
        r = c.data(make_message(ALICE, REMOTE, "outbound", "queued for remote\r\n"))
        assert QUEUED_RE.match(r.lines[0]), r


def test_trusted_networks_setting_allows_relay(server, netns):
    server.stop()
    server.cli("settings", "set", "trusted_networks", f"127.0.0.0/8,::1/128,{netns['host_ip']}/32")
    server.start()
    with client(server, netns) as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        r = c.cmd(f"RCPT TO:<{REMOTE}>")
        assert r.code == 250, r
        r = c.data(make_message(SENDER, REMOTE, "trusted relay", "now trusted\r\n"))
        assert QUEUED_RE.match(r.lines[0]), r

    # And back: a network that does not contain the client does not help.
    server.stop()
    server.cli("settings", "set", "trusted_networks", f"127.0.0.0/8,::1/128,{netns['ns_ip']}/32")
    server.start()
    with client(server, netns) as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        assert c.cmd(f"RCPT TO:<{REMOTE}>").startswith("554 5.7.1")
