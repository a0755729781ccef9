"""Fixtures for the Mailroom end-to-end suite.

Each test module gets its own data directory and its own server process
(`server` fixture), so per-IP authentication throttling and mailbox
contents never leak between modules. Tests that need a pristine server
use `fresh_server` instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mailroom import BinaryMissing, MailServer, require_binary  # noqa: E402


def require_module(name: str):
    """Imports a test dependency or fails the test: a missing tool is a broken
    test environment (run scripts/install-test-deps), never a pass."""
    import importlib
    try:
        return importlib.import_module(name)
    except ImportError as e:
        pytest.fail(f"the Python module {name} is missing ({e}); run scripts/install-test-deps", pytrace=False)


def require_program(name: str) -> None:
    """Fails the test unless the program is on the PATH."""
    import shutil
    if not shutil.which(name):
        pytest.fail(f"{name} is not installed; run scripts/install-test-deps", pytrace=False)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.fixture(scope="session")
def mailroomd():
    try:
        return require_binary()
    except BinaryMissing as e:
        pytest.fail(str(e), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, append the log of every server the test could see."""
    outcome = yield
    report = outcome.get_result()
    if report.when not in ("setup", "call") or not report.failed:
        return
    seen = []
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, MailServer):
            seen.append(value)
        elif isinstance(value, ServerFactory):
            seen.extend(value.servers)
    for srv in dict((id(s), s) for s in seen).values():
        report.sections.append((f"mailroomd log ({srv.log_path})", srv.log_text()[-20000:]))
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, PeerFactory) and value.peers:
            report.sections.append(("SMTP peers", value.transcript()))


class ServerFactory:
    """Creates provisioned data dirs and servers; stops them all at the end."""

    def __init__(self, tmp_path_factory, binary):
        self.tmp_path_factory = tmp_path_factory
        self.binary = binary
        self.servers: list[MailServer] = []

    def __call__(self, provision: bool = True, start: bool = True, settings: dict | None = None,
                 **kw) -> MailServer:
        d = self.tmp_path_factory.mktemp("mailroom")
        data = d / "data"
        data.mkdir()
        srv = MailServer(data_dir=data, log_path=d / "server.log", binary=self.binary, **kw)
        self.servers.append(srv)
        if provision:
            srv.provision()
        for key, value in (settings or {}).items():
            srv.cli("settings", "set", key, str(value))
        if start:
            srv.start()
        return srv

    def close(self):
        errors = []
        for srv in self.servers:
            try:
                srv.stop()
            except AssertionError as e:
                errors.append(str(e))
        assert not errors, errors


@pytest.fixture(scope="module")
def server_factory(tmp_path_factory, mailroomd):
    f = ServerFactory(tmp_path_factory, mailroomd)
    yield f
    f.close()


@pytest.fixture(scope="module")
def server(server_factory) -> MailServer:
    """A running, provisioned server shared by the tests of one module."""
    return server_factory()


@pytest.fixture
def fresh_server(tmp_path_factory, mailroomd):
    """A running, provisioned server of its own for one test."""
    f = ServerFactory(tmp_path_factory, mailroomd)
    srv = f()
    yield srv
    f.close()


# --------------------------------------------------------------------------
# Outbound delivery: a test DNS server and scripted SMTP peers (peers.py)
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def test_dns():
    """One DNS server for the session; tests add records under names of their own."""
    require_module("dnslib")
    from peers import TestDNS

    dns = TestDNS().start()
    yield dns
    dns.stop()


@pytest.fixture(scope="session")
def loopback():
    """127.0.0.x addresses for peers, all on one port (mailroomd's remote_smtp_port)."""
    from peers import LoopbackAddresses

    return LoopbackAddresses()


def outbound_settings(dns, loopback, **extra) -> dict:
    """Settings that point a server's outbound delivery at the test DNS and peers."""
    settings = {
        "hostname": "mailroom-out.test",
        "dns_servers": dns.address,
        "remote_smtp_port": loopback.port,
        "retry_schedule": "1s",
        "queue_poll_secs": 1,
        # The peers listen on 127.0.0.x: let MX records point there.
        "outbound_allowed_internal_networks": "127.0.0.0/8",
    }
    settings.update(extra)
    return settings


class PeerFactory:
    """Starts scripted SMTP peers on fresh loopback addresses; stops them at the end."""

    def __init__(self, loopback):
        self.loopback = loopback
        self.peers = []

    def __call__(self, ip: str | None = None, **kw):
        require_module("aiosmtpd")
        from peers import SMTPPeer

        peer = SMTPPeer(ip or self.loopback.take(), self.loopback.port, **kw)
        self.peers.append(peer)
        return peer.start()

    def transcript(self) -> str:
        lines = []
        for p in self.peers:
            lines.append(f"peer {p.ip}:{p.port} ({p.hostname}): {len(p.messages)} message(s)")
            for s in p.sessions.values():
                lines.append(f"  {s}")
        return "\n".join(lines)

    def close(self):
        for p in self.peers:
            p.stop()


@pytest.fixture
def smtp_peers(loopback):
    f = PeerFactory(loopback)
    yield f
    f.close()


# --------------------------------------------------------------------------
# IMAP: a fresh account per test, and a logged-in raw session on it
# --------------------------------------------------------------------------


@pytest.fixture
def acct(server) -> tuple[str, str]:
    """A new account on the module's server: (address, password)."""
    return server.new_account()


@pytest.fixture
def c(server, acct):
    """A raw IMAP session (mailroom.RawIMAP) logged in to `acct`; logged out after the test."""
    conn = server.raw_imap(*acct)
    yield conn
    conn.logout()
