"""Live administration: the IP filter, settings applied without a restart,
stopping and starting listeners, remote administration over HTTPS, and
notifications on the event stream — through the admin API and the CLI,
against the real server and real clients.
"""

from __future__ import annotations

import http.client
import json
import poplib
import queue
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

from conftest import outbound_settings
from mailroom import PASSWORDS, retr_all, wait_for
from test_admin_api import base, call, token_of

ALICE = "alice@example.test"



def greeting(host: str, port: int) -> str:
    """The first line a plaintext listener sends (empty if it closes at once)."""
    with socket.create_connection((host, port), timeout=10) as s:
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(512)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace")


def closed_after_greeting(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=10) as s:
        s.settimeout(5)
        data = b""
        while True:
            chunk = s.recv(512)
            if not chunk:
                return True
            data += chunk
            if len(data) > 4096:
                return False


def refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=3).close()
        return False
    except ConnectionRefusedError:
        return True


class EventStream:
    """The admin API's Server-Sent Events, read in a thread: (event name, data)."""

    def __init__(self, srv, token: str | None = None):
        req = urllib.request.Request(base(srv) + "/api/v1/events",
                                     headers={"Authorization": f"Bearer {token or token_of(srv)}"})
        self.resp = urllib.request.urlopen(req, timeout=60)
        self.items: queue.Queue = queue.Queue()
        self.ended = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        name = "message"
        try:
            for raw in self.resp:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    self.items.put((name, json.loads(line[5:].strip())))
                elif not line:
                    name = "message"
        except (OSError, ValueError, AttributeError):
            pass
        self.ended.set()

    def wait(self, match, timeout: float = 8.0):
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                name, ev = self.items.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append((name, ev.get("message")))
            if match(name, ev):
                return ev
        pytest.fail(f"no matching event within {timeout} s; saw {seen[-30:]}")

    def close(self):
        self.resp.close()


def notification(kind):
    return lambda name, ev: name == "notification" and ev["kind"] == "notification" \
        and ev["fields"].get("notify") == kind


# ---- IP filter ---------------------------------------------------------------


def test_default_ip_ranges_trust_only_loopback(server):
    status, rules = call(server, "GET", "/api/v1/ip-ranges", token=token_of(server))
    assert status == 200
    assert [r["priority"] for r in rules] == sorted(r["priority"] for r in rules)
    by_net = {r["network"]: r for r in rules}
    assert by_net["127.0.0.0/8"]["relay"] is True and by_net["127.0.0.0/8"]["action"] == "allow"
    assert by_net["::1/128"]["relay"] is True
    for lan in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"):
        assert by_net[lan]["action"] == "allow" and by_net[lan]["relay"] is False, lan
    assert by_net["0.0.0.0/0"]["relay"] is False


def test_deny_rule_applies_to_next_connection_per_protocol(server):
    token = token_of(server)
    host = server.host
    status, rule = call(server, "POST", "/api/v1/ip-ranges", {
        "network": "127.0.0.1", "action": "deny", "protocols": "pop3, IMAP", "priority": 1, "note": "test"}, token=token)
    assert status == 201, rule
    assert (rule["network"], rule["protocols"], rule["action"]) == ("127.0.0.1/32", "pop3,imap", "deny")
    try:
        line = greeting(host, server.port("pop3"))
        assert line.startswith("-ERR") and "not accepted" in line, line
        assert closed_after_greeting(host, server.port("pop3"))
        line = greeting(host, server.port("imap"))
        assert line.startswith("* BYE") and "not accepted" in line, line
        # Implicit TLS: closed before any handshake.
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            with socket.create_connection((host, server.port("imaps")), timeout=10) as s:
                ssl._create_unverified_context().wrap_socket(s, server_hostname="x").recv(1)
        # SMTP is not in the rule.
        assert greeting(host, server.port("smtp")).startswith("220")
        assert "connection refused by the IP filter" in server.log_text()
    finally:
        assert call(server, "DELETE", f"/api/v1/ip-ranges/{rule['id']}", token=token)[0] == 204
    p = server.pop3(ALICE, PASSWORDS[ALICE])
    assert p.stat()[0] >= 0
    p.quit()


def test_relay_trust_follows_ip_ranges_without_restart(fresh_server):
    srv = fresh_server
    token = token_of(srv)
    # Only the IP ranges decide now.
    status, s = call(srv, "PUT", "/api/v1/settings/trusted_networks", {"value": ""}, token=token)
    assert status == 200 and s["applies"] == "now", s

    def rcpt_remote() -> int:
        with srv.smtplib("smtp") as c:
            c.ehlo()
            c.mail("sender@example.test")
            code, _ = c.rcpt("someone@remote.test")
            c.rset()
            return code

    assert rcpt_remote() == 250  # loopback range: relay allowed
    status, rule = call(srv, "POST", "/api/v1/ip-ranges", {
        "network": "127.0.0.1/32", "action": "allow", "relay": False, "priority": 1}, token=token)
    assert status == 201
    assert rcpt_remote() == 554
    status, changed = call(srv, "PUT", f"/api/v1/ip-ranges/{rule['id']}", {
        "network": "127.0.0.1/32", "action": "allow", "relay": True, "priority": 1}, token=token)
    assert status == 200 and changed["relay"] is True
    assert rcpt_remote() == 250


def test_ip_range_validation_and_errors(server):
    token = token_of(server)
    cases = [
        ({"network": "office", "action": "allow"}, "192.168.1.0/24"),
        ({"network": "10.0.0.0/8", "action": "allow", "protocols": "ftp"}, "not a protocol"),
        ({"network": "10.0.0.0/8", "action": "maybe"}, "allow"),
        ({"network": "10.0.0.0/8", "action": "deny", "relay": True}, "relay"),
        ({"network": "10.0.0.0/8", "action": "allow", "priority": -5}, "priority"),
        ({"action": "allow"}, "network"),
    ]
    for body, words in cases:
        status, err = call(server, "POST", "/api/v1/ip-ranges", body, token=token)
        assert status == 422, (body, status, err)
        assert words in err["error"], (body, err)
    # Not JSON at all: still a JSON error.
    req = urllib.request.Request(base(server) + "/api/v1/ip-ranges", data=b"{not json",
                                 method="POST", headers={"Authorization": f"Bearer {token}",
                                                         "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 400
    assert "not acceptable" in json.loads(e.value.read())["error"]
    assert call(server, "PUT", "/api/v1/ip-ranges/999999", {"network": "10.0.0.0/8", "action": "allow"},
                token=token)[0] == 404
    assert call(server, "DELETE", "/api/v1/ip-ranges/abc", token=token)[0] == 404
    assert call(server, "GET", "/api/v1/ip-ranges")[0] == 401
    assert call(server, "POST", "/api/v1/listeners/smtp/stop")[0] == 401


def test_iprange_cli_and_api_agree(server):
    token = token_of(server)
    out = server.cli("iprange", "add", "198.51.100.0/24", "deny", "--protocols", "smtp", "--priority", "7",
                     "--note", "cli rule").stdout
    assert "added" in out
    _, rules = call(server, "GET", "/api/v1/ip-ranges", token=token)
    [rule] = [r for r in rules if r["network"] == "198.51.100.0/24"]
    assert (rule["action"], rule["protocols"], rule["priority"], rule["note"]) == ("deny", "smtp", 7, "cli rule")
    listing = server.cli("iprange", "list").stdout
    assert "198.51.100.0/24" in listing and "cli rule" in listing
    bad = server.cli("iprange", "add", "nonsense", "allow", check=False)
    assert bad.returncode == 1 and "not a network" in bad.stderr
    server.cli("iprange", "remove", str(rule["id"]))
    _, rules = call(server, "GET", "/api/v1/ip-ranges", token=token)
    assert all(r["network"] != "198.51.100.0/24" for r in rules)


def test_cli_deny_reaches_the_running_server(fresh_server):
    srv = fresh_server
    srv.cli("iprange", "add", "127.0.0.1", "deny", "--protocols", "pop3", "--priority", "1")
    wait_for(lambda: greeting(srv.host, srv.port("pop3")).startswith("-ERR"), what="POP3 refusal")


# ---- settings without restart ------------------------------------------------


def test_setting_applies_at_once_and_restart_ones_are_reported(fresh_server):
    srv = fresh_server
    token = token_of(srv)
    status, s = call(srv, "PUT", "/api/v1/settings/max_recipients", {"value": "2"}, token=token)
    assert status == 200 and s["applies"] == "now"
    with srv.smtplib("smtp") as c:
        c.ehlo()
        c.mail("sender@remote.test")
        assert c.rcpt(ALICE)[0] == 250
        assert c.rcpt("bob@example.test")[0] == 250
        code, msg = c.rcpt("carol@example.test")
        assert code == 452 and b"at most 2" in msg, (code, msg)
    status, s = call(srv, "PUT", "/api/v1/settings/max_connections", {"value": "500"}, token=token)
    assert status == 200 and s["applies"] == "restart"
    _, settings = call(srv, "GET", "/api/v1/settings", token=token)
    assert {x["key"]: x["applies"] for x in settings}["max_connections"] == "restart"
    _, st = call(srv, "GET", "/api/v1/status", token=token)
    assert st["restart_needed"] == ["max_connections"]
    assert any("Restart Mailroom to apply: max_connections" in w for w in st["warnings"]), st["warnings"]


def test_cli_setting_change_reaches_the_running_server(fresh_server):
    srv = fresh_server
    srv.cli("settings", "set", "max_recipients", "1")

    def limited():
        with srv.smtplib("smtp") as c:
            c.ehlo()
            c.mail("sender@remote.test")
            c.rcpt(ALICE)
            return c.rcpt("bob@example.test")[0] == 452

    wait_for(limited, what="max_recipients=1 in effect")


# ---- listeners ---------------------------------------------------------------


def test_stop_and_start_a_listener(server):
    token = token_of(server)
    host, port = server.addr("pop3")
    events = EventStream(server)
    try:
        status, r = call(server, "POST", "/api/v1/listeners/pop3/stop", token=token)
        assert status == 200 and r["changed"] is True and r["listener"]["running"] is False
        ev = events.wait(notification("listener_stopped"))
        assert ev["fields"]["listener"] == "pop3"
        assert refused(host, port)
        # Others keep running; the status says what is stopped.
        assert greeting(host, server.port("smtp")).startswith("220")
        _, st = call(server, "GET", "/api/v1/status", token=token)
        states = {l["name"]: l["running"] for l in st["listeners"]}
        assert states["pop3"] is False and states["smtp"] is True and states["admin"] is True
        assert any("POP3" in w and "stopped" in w for w in st["warnings"]), st["warnings"]
        assert call(server, "POST", "/api/v1/listeners/pop3/stop", token=token)[1]["changed"] is False
        status, r = call(server, "POST", "/api/v1/listeners/pop3/start", token=token)
        assert status == 200 and r["listener"]["running"] is True
        events.wait(lambda name, ev: name == "status" and ev["fields"].get("listener") == "pop3")
    finally:
        call(server, "POST", "/api/v1/listeners/pop3/start", token=token)
        events.close()
    assert greeting(host, port).startswith("+OK")
    assert call(server, "POST", "/api/v1/listeners/gopher/stop", token=token)[0] == 404
    status, err = call(server, "POST", "/api/v1/listeners/admin/stop", token=token)
    assert status == 422 and "admin" in err["error"]


def test_listener_cli_goes_through_the_running_server(server):
    out = server.cli("listener", "stop", "imap").stdout
    assert "stopped" in out
    try:
        assert refused(server.host, server.port("imap"))
        status = server.cli("status").stdout
        assert "IMAP (STARTTLS)" in status and "stopped" in status and "Warning:" in status
    finally:
        out = server.cli("listener", "start", "imap").stdout
    assert "running" in out
    assert greeting(server.host, server.port("imap")).startswith("* OK")
    assert "All is well." in server.cli("status").stdout
    bad = server.cli("listener", "stop", "nothing", check=False)
    assert bad.returncode == 1 and "no listener" in bad.stderr


# ---- remote administration ---------------------------------------------------


def test_remote_administration_is_https_only_and_switchable(fresh_server):
    srv = fresh_server
    token = token_of(srv)
    port = 8443 + srv.offset
    ctx = ssl._create_unverified_context()

    def https(method, path, body=None, headers=None, auth=True):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"https://{srv.host}:{port}{path}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30, context=ctx) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    assert refused(srv.host, port)
    status, s = call(srv, "PUT", "/api/v1/settings/admin_remote_access", {"value": "true"}, token=token)
    assert status == 200 and s["applies"] == "now"
    wait_for(lambda: not refused(srv.host, port), what="remote administration open")
    status, st = https("GET", "/api/v1/status")
    assert status == 200 and {l["name"]: l["running"] for l in st["listeners"]}["admin_remote"] is True
    assert https("GET", "/api/v1/status", auth=False)[0] == 401
    # Plain HTTP on the HTTPS port gets no API answer.
    with socket.create_connection((srv.host, port), timeout=10) as s:
        s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(10)
        try:
            reply = s.recv(100)
        except (ConnectionResetError, socket.timeout):
            reply = b""
        assert not reply.startswith(b"HTTP/1.1 200")
    # Cross-site: only the page's own https origin.
    assert https("GET", "/api/v1/status", headers={"Origin": "https://evil.example"})[0] == 403
    assert https("GET", "/api/v1/status", headers={"Origin": f"http://{srv.host}:{port}"})[0] == 403
    assert https("GET", "/api/v1/status", headers={"Origin": f"https://{srv.host}:{port}"})[0] == 200
    # A name that is not this server's (DNS rebinding) is refused.
    status, err = https("GET", "/api/v1/status", headers={"Host": "evil.example:8443"})
    assert status == 403 and "name" in err["error"], err
    # Logins over the remote listener are throttled like any other.
    codes = [https("POST", "/api/v1/login", {"password": "wrong"}, auth=False)[0] for _ in range(11)]
    assert codes[0] == 401 and codes[-1] == 429, codes
    # Switching it off ends open sessions: a request on a connection opened before is refused.
    conn = http.client.HTTPSConnection(srv.host, port, context=ctx, timeout=30)
    conn.request("GET", "/api/v1/status", headers={"Authorization": f"Bearer {token}"})
    assert conn.getresponse().read() and True
    status, _ = call(srv, "PUT", "/api/v1/settings/admin_remote_access", {"value": "false"}, token=token)
    wait_for(lambda: refused(srv.host, port), what="remote administration closed")
    try:
        conn.request("GET", "/api/v1/status", headers={"Authorization": f"Bearer {token}"})
        r = conn.getresponse()
        assert r.status == 403 and b"switched off" in r.read()
    except (http.client.RemoteDisconnected, ConnectionError):
        pass  # or the server closed the idle connection: either way, nothing more is served
    conn.close()


# ---- notifications -----------------------------------------------------------


def test_disk_and_certificate_notifications(fresh_server):
    srv = fresh_server
    token = token_of(srv)
    events = EventStream(srv)
    try:
        call(srv, "PUT", "/api/v1/settings/disk_low_warning_mb", {"value": "100000000"}, token=token)
        ev = events.wait(notification("disk_low"))
        assert ev["level"] == "WARN" and "disk space" in ev["message"]
        # A certificate that runs out in 5 days, put in place of the generated one.
        tls = srv.data_dir / "tls"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "5",
                        "-subj", "/CN=mail.example.test", "-keyout", str(tls / "short-key.pem"),
                        "-out", str(tls / "cert.pem")], check=True, capture_output=True)
        call(srv, "PUT", "/api/v1/settings/cert_expiry_warning_days", {"value": "30"}, token=token)
        ev = events.wait(notification("cert_expiring"))
        assert ev["fields"]["days"] in (4, 5), ev
        assert "expires in" in ev["message"]
    finally:
        events.close()
    _, st = call(srv, "GET", "/api/v1/status", token=token)
    assert any("Disk space is running out" in w for w in st["warnings"]), st["warnings"]
    assert any("certificate" in w for w in st["warnings"]), st["warnings"]


def test_ban_notification_after_failed_logins(fresh_server):
    srv = fresh_server
    srv.stop()
    srv.cli("settings", "set", "auth_fail_block_after", "3")
    srv.start()
    events = EventStream(srv)
    try:
        for _ in range(3):
            p = poplib.POP3(srv.host, srv.port("pop3"), timeout=30)
            p.stls(ssl._create_unverified_context())
            p.user(ALICE)
            with pytest.raises(poplib.error_proto):
                p.pass_("wrong password")
            p.close()
        ev = events.wait(notification("ban"), timeout=15)
        assert ev["fields"]["peer"] == "127.0.0.1"
    finally:
        events.close()


def test_bounce_notification(server_factory, test_dns, loopback):
    srv = server_factory(settings=outbound_settings(test_dns, loopback))
    t = uuid.uuid4().hex[:10]
    domain = f"nullmx-{t}.test"
    test_dns.null_mx(domain)
    events = EventStream(srv)
    try:
        with srv.smtplib("submission") as c:
            c.starttls(context=ssl._create_unverified_context())
            c.login(ALICE, PASSWORDS[ALICE])
            c.sendmail(ALICE, [f"user@{domain}"], f"Subject: bounce {t}\r\n\r\nbody\r\n".encode())
        ev = events.wait(notification("bounce"), timeout=15)
        assert ev["fields"]["sender"] == ALICE
        assert f"user@{domain}" in ev["fields"]["rcpt"]
    finally:
        events.close()


# ---- first-run helpers: admin password, test message, the web interface ------


def test_admin_password_through_the_api(fresh_server):
    srv = fresh_server
    token = token_of(srv)
    _, st = call(srv, "GET", "/api/v1/status", token=token)
    assert st["admin_password_set"] is False
    status, err = call(srv, "PUT", "/api/v1/admin-password", {"password": "short"}, token=token)
    assert status == 422 and "8 characters" in err["error"]
    assert call(srv, "PUT", "/api/v1/admin-password", {"password": "long-enough-1"})[0] == 401
    status, changed = call(srv, "PUT", "/api/v1/admin-password", {"password": "long-enough-1"}, token=token)
    assert status == 200 and changed["token"]
    status, login = call(srv, "POST", "/api/v1/login", {"password": "long-enough-1"})
    assert status == 200 and login["token"]
    _, st = call(srv, "GET", "/api/v1/status", token=login["token"])
    assert st["admin_password_set"] is True
    # A new password ends the sessions made with the old one, their open
    # event streams included; the local key's stream goes on.
    session_stream = EventStream(srv, login["token"])
    local_stream = EventStream(srv)
    try:
        status, again = call(srv, "PUT", "/api/v1/admin-password", {"password": "another-one-2"}, token=login["token"])
        assert status == 200
        assert session_stream.ended.wait(10), "the old session's event stream is still open"
        local_stream.wait(lambda name, ev: ev["fields"].get("change") == "admin_password")
        assert not local_stream.ended.is_set()
    finally:
        session_stream.close()
        local_stream.close()
    assert call(srv, "GET", "/api/v1/status", token=login["token"])[0] == 401
    assert call(srv, "GET", "/api/v1/status", token=again["token"])[0] == 200
    assert call(srv, "POST", "/api/v1/login", {"password": "long-enough-1"})[0] == 401


def test_test_message_reaches_a_local_mailbox(server):
    token = token_of(server)
    user, password = server.new_account()
    status, sent = call(server, "POST", "/api/v1/test-message", {"to": user.upper()}, token=token)
    assert status == 202, sent
    assert sent["local"] is True and sent["queued"] is False and sent["from"] == "postmaster@example.test"
    p = server.pop3(user, password=password)
    try:
        [stored] = retr_all(p)
    finally:
        p.quit()
    assert b"Subject: Mailroom test message" in stored
    # Read it with an independent client: the body is in both languages.
    import email
    msg = email.message_from_bytes(stored)
    text = msg.get_payload(decode=True).decode()
    assert "mail reaches" in text and "почта доходит" in text
    status, trace = call(server, "GET", f"/api/v1/messages/{sent['message_id']}/trace", token=token)
    assert status == 200 and trace["status"] == "delivered", trace
    for body, words in (({"to": "nobody@example.test"}, "no mailbox"), ({"to": "not an address"}, "")):
        status, err = call(server, "POST", "/api/v1/test-message", body, token=token)
        assert status == 422 and words in err["error"], err


def test_test_message_to_another_domain_is_queued(fresh_server):
    srv = fresh_server
    token = token_of(srv)
    call(srv, "POST", "/api/v1/queue/pause", token=token)
    status, sent = call(srv, "POST", "/api/v1/test-message", {"to": "friend@elsewhere.test"}, token=token)
    assert status == 202 and sent["queued"] is True and sent["local"] is False
    _, q = call(srv, "GET", "/api/v1/queue", token=token)
    [queued] = [m for m in q["messages"] if m["id"] == sent["message_id"]]
    assert [r["address"] for r in queued["recipients"]] == ["friend@elsewhere.test"]
    assert queued["sender"] == "postmaster@example.test"


def test_web_interface_is_served_with_safe_headers(server):
    host, port = server.addr("admin")
    for path in ("/", "/dashboard", "/settings/limits"):
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=30) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/html")
            assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
            assert r.headers["X-Frame-Options"] == "DENY"
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            page = r.read().decode()
        assert "Mailroom" in page
    _, st = call(server, "GET", "/api/v1/status", token=token_of(server))
    if not st["web_ui"]:
        # A build without the UI says so, in both languages, and how to build it.
        assert "scripts/build-ui" in page and "Веб-интерфейс" in page
    # Unknown API paths stay JSON errors; a missing asset is a plain 404.
    status, err = call(server, "GET", "/api/v1/no-such-thing", token=token_of(server))
    assert status == 404 and "openapi.json" in err["error"]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://{host}:{port}/assets/missing-0000.js", timeout=30)
    assert e.value.code == 404
