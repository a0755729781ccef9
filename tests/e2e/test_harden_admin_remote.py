"""Limits of remote administration (HTTPS on 8443+offset): connections per
address and in total, idle connections closed, and the API still answering
other clients while one address floods it.

The remote listener counts loopback clients like any other, and Linux lets
a client pick any 127.0.0.0/8 source address, so "other computers" are
127.0.0.x sources here.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time

from mailroom import wait_for
from test_admin_api import token_of

CTX = ssl._create_unverified_context()


def remote_port(srv) -> int:
    return 8443 + srv.offset


def tls_connect(srv, source: str = "127.0.0.1", timeout: float = 10) -> ssl.SSLSocket:
    raw = socket.create_connection((srv.host, remote_port(srv)), timeout=timeout, source_address=(source, 0))
    try:
        return CTX.wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise


def try_tls(srv, source: str = "127.0.0.1") -> ssl.SSLSocket | None:
    """A TLS connection, or None when the server refused or closed it."""
    try:
        s = tls_connect(srv, source)
    except OSError:
        return None
    # The handshake may finish on our side just before the server drops an
    # over-limit connection: it counts only if it still answers.
    s.settimeout(0.3)
    try:
        if s.recv(1) == b"":
            s.close()
            return None
    except (socket.timeout, TimeoutError):
        pass
    except OSError:
        s.close()
        return None
    s.settimeout(10)
    return s


def api_status(srv, token: str, source: str) -> int:
    """The status of GET /api/v1/status over a new connection from `source` (0: no answer)."""
    conn = http.client.HTTPSConnection(srv.host, remote_port(srv), context=CTX, timeout=20,
                                       source_address=(source, 0))
    try:
        conn.request("GET", "/api/v1/status", headers={"Authorization": f"Bearer {token}"})
        r = conn.getresponse()
        json.loads(r.read())
        return r.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        conn.close()


def closed_by_server(s: ssl.SSLSocket, within: float) -> bool:
    """Whether the server closes the connection within `within` seconds."""
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                if s.recv(4096) == b"":
                    return True
            except (socket.timeout, TimeoutError):
                return False
    except OSError:
        return True  # reset or TLS close_notify torn: closed all the same
    return False


def answers(srv) -> bool:
    s = try_tls(srv)
    if s is None:
        return False
    s.close()
    return True


def open_remote(server_factory, **settings):
    srv = server_factory(settings={"admin_remote_access": "true", **settings})
    wait_for(lambda: answers(srv), what="remote administration open")
    return srv


def test_one_address_cannot_take_every_connection(server_factory):
    srv = open_remote(server_factory)  # the default: 16 per address
    token = token_of(srv)
    held, refused = [], 0
    try:
        for _ in range(16 + 5):
            s = try_tls(srv)
            if s is None:
                refused += 1
            else:
                held.append(s)
        assert len(held) == 16 and refused == 5, (len(held), refused)
        # Another computer is still served while the flood holds its connections.
        assert api_status(srv, token, "127.0.0.2") == 200
    finally:
        for s in held:
            s.close()
    # The slots are given back when the connections end.
    wait_for(lambda: api_status(srv, token, "127.0.0.1") == 200, what="slots released")


def test_total_connections_are_capped(server_factory):
    srv = open_remote(server_factory, admin_max_connections="6", admin_max_connections_per_ip="4")
    token = token_of(srv)
    held = []
    try:
        a = [try_tls(srv, "127.0.0.3") for _ in range(5)]
        assert sum(s is not None for s in a) == 4, "per-address limit"
        held += [s for s in a if s]
        b = [try_tls(srv, "127.0.0.4") for _ in range(3)]
        assert sum(s is not None for s in b) == 2, "total limit"
        held += [s for s in b if s]
        assert try_tls(srv, "127.0.0.5") is None
    finally:
        for s in held:
            s.close()
    wait_for(lambda: api_status(srv, token, "127.0.0.5") == 200, what="slots released")


def test_idle_connections_are_closed(server_factory):
    srv = open_remote(server_factory, admin_idle_timeout="2s")
    token = token_of(srv)
    # A connection that never sends a request.
    silent = tls_connect(srv)
    assert closed_by_server(silent, within=15), "a silent connection stayed open"
    silent.close()
    # A keep-alive connection after its request was answered.
    conn = http.client.HTTPSConnection(srv.host, remote_port(srv), context=CTX, timeout=20)
    conn.request("GET", "/api/v1/status", headers={"Authorization": f"Bearer {token}"})
    r = conn.getresponse()
    assert r.status == 200 and r.getheader("Connection", "").lower() != "close"
    r.read()
    assert closed_by_server(conn.sock, within=15), "an idle keep-alive connection stayed open"
    conn.close()
    # Requests themselves are not cut short: a new connection works at once.
    assert api_status(srv, token, "127.0.0.1") == 200
