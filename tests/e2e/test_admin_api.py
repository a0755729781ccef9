"""The admin HTTP API (port N+8080 on loopback), driven with urllib.

Credentials (the 0600 token file, admin-password logins, 401 everywhere
without them), the origin check, status, the OpenAPI description, settings,
domains and accounts (and that they are the CLI's operations), and the live
log over Server-Sent Events.
"""

from __future__ import annotations

import json
import os
import smtplib
import queue
import stat
import threading
import time
import urllib.error
import urllib.request

import pytest

ADMIN_PASSWORD = "admin-secret-1"


def base(srv) -> str:
    host, port = srv.addr("admin")
    return f"http://{host}:{port}"


def token_of(srv) -> str:
    return (srv.data_dir / "admin.token").read_text().strip()


def call(srv, method: str, path: str, body=None, token: str | None = None, headers: dict | None = None):
    """One request; returns (status, parsed JSON body or None)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base(srv) + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, (json.loads(raw) if raw else None)


PROTECTED = [
    ("GET", "/api/v1/status", None),
    ("GET", "/api/v1/settings", None),
    ("PUT", "/api/v1/settings/max_recipients", {"value": "5"}),
    ("GET", "/api/v1/domains", None),
    ("POST", "/api/v1/domains", {"name": "sneaky.test"}),
    ("DELETE", "/api/v1/domains/example.test", None),
    ("GET", "/api/v1/domains/example.test/dns", None),
    ("GET", "/api/v1/domains/example.test/dns/check", None),
    ("GET", "/api/v1/accounts", None),
    ("POST", "/api/v1/accounts", {"address": "x@example.test", "password": "p"}),
    ("PATCH", "/api/v1/accounts/alice@example.test", {"enabled": False}),
    ("DELETE", "/api/v1/accounts/alice@example.test", None),
    ("GET", "/api/v1/events", None),
    ("GET", "/api/v1/aliases", None),
    ("POST", "/api/v1/aliases", {"address": "sneaky@example.test", "targets": ["alice@example.test"]}),
    ("DELETE", "/api/v1/aliases/sneaky@example.test", None),
    ("GET", "/api/v1/lists", None),
    ("POST", "/api/v1/lists", {"address": "sneaky-list@example.test"}),
    ("DELETE", "/api/v1/lists/sneaky-list@example.test", None),
    ("POST", "/api/v1/lists/sneaky-list@example.test/members", {"address": "alice@example.test"}),
    ("DELETE", "/api/v1/lists/sneaky-list@example.test/members/alice@example.test", None),
    ("PUT", "/api/v1/domains/example.test/catch-all", {"target": "alice@example.test"}),
    ("GET", "/api/v1/queue", None),
    ("GET", "/api/v1/queue/0123abcd", None),
    ("POST", "/api/v1/queue/0123abcd/retry", None),
    ("POST", "/api/v1/queue/retry-all", None),
    ("DELETE", "/api/v1/queue/0123abcd", None),
    ("POST", "/api/v1/queue/pause", None),
    ("POST", "/api/v1/queue/resume", None),
    ("GET", "/api/v1/listeners", None),
    ("POST", "/api/v1/listeners/smtp/stop", None),
    ("POST", "/api/v1/listeners/smtp/start", None),
    ("GET", "/api/v1/ip-ranges", None),
    ("POST", "/api/v1/ip-ranges", {"network": "0.0.0.0/0", "action": "deny", "priority": 0}),
    ("PUT", "/api/v1/ip-ranges/1", {"network": "0.0.0.0/0", "action": "deny", "priority": 0}),
    ("DELETE", "/api/v1/ip-ranges/1", None),
    ("GET", "/api/v1/certificate", None),
    ("PUT", "/api/v1/certificate", {"cert_pem": "x", "key_pem": "y"}),
    ("POST", "/api/v1/certificate/self-signed", {"names": ["sneaky.test"]}),
    ("GET", "/api/v1/no-such-thing", None),
]


@pytest.mark.parametrize("method,path,body", PROTECTED, ids=[f"{m} {p}" for m, p, _ in PROTECTED])
def test_401_without_or_with_wrong_credentials(server, method, path, body):
    for token in (None, "0" * 64):
        status, answer = call(server, method, path, body, token=token)
        assert status == 401, (token, answer)
        assert isinstance(answer["error"], str) and answer["error"]
    # Nothing was changed by the refused requests.
    status, accounts = call(server, "GET", "/api/v1/accounts", token=token_of(server))
    alice = [a for a in accounts if a["address"] == "alice@example.test"]
    assert status == 200 and alice and alice[0]["enabled"]
    assert not any(d["name"] == "sneaky.test" for d in call(server, "GET", "/api/v1/domains", token=token_of(server))[1])
    assert call(server, "GET", "/api/v1/aliases", token=token_of(server))[1] == []
    assert call(server, "GET", "/api/v1/lists", token=token_of(server))[1] == []
    assert call(server, "GET", "/api/v1/queue", token=token_of(server))[1]["paused"] is False


def test_listener_in_runtime_json_on_loopback(server):
    info = json.loads(server.runtime_json.read_text())
    host, port = server.addr("admin")
    assert info["listeners"]["admin"] == f"127.0.0.1:{port}"
    assert port == server.offset + 8080


def test_token_file_is_private_and_works(server):
    path = server.data_dir / "admin.token"
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600, oct(mode)
    token = token_of(server)
    assert len(token) == 64 and all(c in "0123456789abcdef" for c in token)
    status, body = call(server, "GET", "/api/v1/status", token=token)
    assert status == 200, body


def test_token_file_rewritten_at_each_start(fresh_server):
    before = token_of(fresh_server)
    fresh_server.restart()
    after = token_of(fresh_server)
    assert before != after
    assert call(fresh_server, "GET", "/api/v1/status", token=before)[0] == 401
    assert call(fresh_server, "GET", "/api/v1/status", token=after)[0] == 200


def test_login_with_admin_password(server):
    server.cli("admin-password", "--password", ADMIN_PASSWORD)
    # The hash is not a setting anyone sees.
    assert "admin_password" not in server.cli("settings", "list").stdout
    status, body = call(server, "POST", "/api/v1/login", {"password": ADMIN_PASSWORD})
    assert status == 200, body
    session = body["token"]
    assert session != token_of(server)
    status, body = call(server, "GET", "/api/v1/status", token=session)
    assert status == 200, body
    status, body = call(server, "POST", "/api/v1/login", {"password": "wrong"})
    assert status == 401 and "password" in body["error"]


def test_admin_password_from_stdin(fresh_server):
    import subprocess
    res = subprocess.run(
        [str(fresh_server.binary), "--data-dir", str(fresh_server.data_dir), "admin-password"],
        input="typed-pw\n", capture_output=True, text=True, timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert call(fresh_server, "POST", "/api/v1/login", {"password": "typed-pw"})[0] == 200


def test_login_failures_are_throttled(server_factory):
    srv = server_factory(settings={"auth_fail_block_after": 2})
    srv.cli("admin-password", "--password", ADMIN_PASSWORD)
    assert call(srv, "POST", "/api/v1/login", {"password": "bad-1"})[0] == 401
    t0 = time.monotonic()
    assert call(srv, "POST", "/api/v1/login", {"password": "bad-2"})[0] == 401
    assert time.monotonic() - t0 >= 0.9, "the second failure should be answered after a delay"
    status, body = call(srv, "POST", "/api/v1/login", {"password": ADMIN_PASSWORD})
    assert status == 429, body
    assert "too many" in body["error"]


def test_foreign_origin_refused(server):
    token = token_of(server)
    for origin in ("https://evil.example", "http://localhost:3000", "null"):
        status, body = call(server, "GET", "/api/v1/status", token=token, headers={"Origin": origin})
        assert status == 403, (origin, body)
        assert body["error"]
        status, _ = call(server, "POST", "/api/v1/login", {"password": "x"}, headers={"Origin": origin})
        assert status == 403
    status, _ = call(server, "GET", "/api/v1/status", token=token, headers={"Origin": base(server)})
    assert status == 200


def test_no_cookies_are_set(server):
    server.cli("admin-password", "--password", ADMIN_PASSWORD)
    req = urllib.request.Request(base(server) + "/api/v1/login", method="POST",
                                 data=json.dumps({"password": ADMIN_PASSWORD}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.headers.get("Set-Cookie") is None


def test_status(server):
    status, s = call(server, "GET", "/api/v1/status", token=token_of(server))
    assert status == 200, s
    assert s["version"]
    assert isinstance(s["uptime_secs"], int) and s["uptime_secs"] >= 0
    assert s["started_at"] and s["hostname"]
    names = {entry["name"]: entry for entry in s["listeners"]}
    for name in ("smtp", "submission", "submissions", "pop3", "pop3s", "imap", "imaps", "admin"):
        assert names[name]["running"] is True
        assert names[name]["address"] == server.listeners[name]
    assert s["counts"]["domains"] >= 1
    assert s["counts"]["accounts"] >= 4  # postmaster, alice, bob, carol
    assert isinstance(s["counts"]["queue"], int)
    assert s["disk_free_bytes"] > 0
    assert s["certificate_expires_at"] > s["started_at"][:10]


def test_openapi_lists_every_path(server):
    status, spec = call(server, "GET", "/api/v1/openapi.json")
    assert status == 200
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    expected = {
        "/api/v1/login": {"post"},
        "/api/v1/openapi.json": {"get"},
        "/api/v1/status": {"get"},
        "/api/v1/settings": {"get"},
        "/api/v1/settings/{key}": {"put"},
        "/api/v1/domains": {"get", "post"},
        "/api/v1/domains/{name}": {"delete"},
        "/api/v1/domains/{name}/dns": {"get"},
        "/api/v1/domains/{name}/dns/check": {"get"},
        "/api/v1/accounts": {"get", "post"},
        "/api/v1/accounts/{address}": {"patch", "delete"},
        "/api/v1/events": {"get"},
        "/api/v1/domains/{name}/catch-all": {"put"},
        "/api/v1/aliases": {"get", "post"},
        "/api/v1/aliases/{address}": {"delete"},
        "/api/v1/lists": {"get", "post"},
        "/api/v1/lists/{address}": {"delete"},
        "/api/v1/lists/{address}/members": {"post"},
        "/api/v1/lists/{address}/members/{member}": {"delete"},
        "/api/v1/queue": {"get"},
        "/api/v1/queue/{id}": {"get", "delete"},
        "/api/v1/queue/{id}/retry": {"post"},
        "/api/v1/queue/retry-all": {"post"},
        "/api/v1/queue/pause": {"post"},
        "/api/v1/queue/resume": {"post"},
        "/api/v1/listeners": {"get"},
        "/api/v1/listeners/{name}/stop": {"post"},
        "/api/v1/listeners/{name}/start": {"post"},
        "/api/v1/ip-ranges": {"get", "post"},
        "/api/v1/ip-ranges/{id}": {"put", "delete"},
        "/api/v1/logs": {"get"},
        "/api/v1/messages/{id}/trace": {"get"},
        "/api/v1/stats": {"get"},
        "/api/v1/stats/summary": {"get"},
        "/api/v1/certificate": {"get", "put"},
        "/api/v1/certificate/self-signed": {"post"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, paths[path].keys())
    # Every error answer of the new endpoints is described.
    for path in ("/api/v1/aliases", "/api/v1/lists"):
        assert {"401", "409", "422"} <= set(paths[path]["post"]["responses"]), path
    assert {"401", "404", "422"} <= set(paths["/api/v1/queue/{id}"]["delete"]["responses"])
    assert "bearer" in spec["components"]["securitySchemes"]
    # A body that is not JSON, or not sent as JSON, is a documented error too.
    assert {"400", "415", "422"} <= set(paths["/api/v1/ip-ranges"]["post"]["responses"])
    assert {"400", "413", "415", "422"} <= set(paths["/api/v1/certificate"]["put"]["responses"])
    assert {"400", "415", "422"} <= set(paths["/api/v1/certificate/self-signed"]["post"]["responses"])
    # Each schema name is used once (two types called Status once shared one).
    assert "RecordStatus" in spec["components"]["schemas"]
    assert "listeners" in spec["components"]["schemas"]["Status"]["properties"]


def test_settings_get_and_put(server):
    token = token_of(server)
    status, settings = call(server, "GET", "/api/v1/settings", token=token)
    assert status == 200
    by_key = {s["key"]: s for s in settings}
    assert by_key["max_recipients"]["default"] == "100"
    assert by_key["max_recipients"]["help"]
    assert "admin_password_hash" not in by_key
    status, body = call(server, "PUT", "/api/v1/settings/max_recipients", {"value": " 50 "}, token=token)
    assert status == 200 and body["value"] == "50", body
    assert server.cli("settings", "get", "max_recipients").stdout.strip() == "50"
    status, settings = call(server, "GET", "/api/v1/settings", token=token)
    assert {s["key"]: s["value"] for s in settings}["max_recipients"] == "50"
    # Validation is the CLI's, with its plain-language message.
    status, body = call(server, "PUT", "/api/v1/settings/max_recipients", {"value": "lots"}, token=token)
    assert status == 422 and "whole number" in body["error"], body
    status, body = call(server, "PUT", "/api/v1/settings/outbound_tls", {"value": "sometimes"}, token=token)
    assert status == 422 and "one of" in body["error"], body
    status, body = call(server, "PUT", "/api/v1/settings/no_such_setting", {"value": "1"}, token=token)
    assert status == 404 and "no setting" in body["error"], body
    status, body = call(server, "PUT", "/api/v1/settings/admin_password_hash", {"value": "x"}, token=token)
    assert status == 404, body
    server.cli("settings", "reset", "max_recipients")


def test_domains(server):
    token = token_of(server)
    status, body = call(server, "POST", "/api/v1/domains", {"name": "Api.Test"}, token=token)
    assert status == 201, body
    assert body == {"name": "api.test", "catch_all": None, "accounts": 1}
    status, domains = call(server, "GET", "/api/v1/domains", token=token)
    assert "api.test" in {d["name"] for d in domains}
    # The CLI's domain add: the DKIM keys exist.
    keys = json.loads(server.cli("dkim", "show", "api.test", "--json").stdout)
    assert len(keys) == 2
    status, body = call(server, "POST", "/api/v1/domains", {"name": "api.test"}, token=token)
    assert status == 409 and "already exists" in body["error"], body
    status, body = call(server, "POST", "/api/v1/domains", {"name": "bad domain!"}, token=token)
    assert status == 422 and "not a valid domain name" in body["error"], body
    status, _ = call(server, "DELETE", "/api/v1/domains/api.test", token=token)
    assert status == 204
    status, body = call(server, "DELETE", "/api/v1/domains/api.test", token=token)
    assert status == 404 and body["error"], body
    assert "api.test" not in server.cli("domain", "list").stdout


def test_accounts(server):
    token = token_of(server)
    assert call(server, "POST", "/api/v1/domains", {"name": "people.test"}, token=token)[0] == 201
    new = {"address": "Dave@people.test", "password": "dave-pw-1", "quota_bytes": 1048576}
    status, body = call(server, "POST", "/api/v1/accounts", new, token=token)
    assert status == 201, body
    assert body["address"] == "dave@people.test" and body["quota_bytes"] == 1048576
    assert body["enabled"] is True and body["has_password"] is True
    status, accounts = call(server, "GET", "/api/v1/accounts?domain=people.test", token=token)
    assert {a["address"] for a in accounts} == {"dave@people.test", "postmaster@people.test"}
    # The account works for mail clients.
    server.pop3("dave@people.test", password="dave-pw-1").quit()

    status, body = call(server, "POST", "/api/v1/accounts", new, token=token)
    assert status == 409 and body["error"], body
    bad = [
        ({"address": "not-an-address", "password": "x"}, 422),
        ({"address": "erin@people.test", "password": ""}, 422),
        ({"address": "erin@people.test", "password": "x", "quota_bytes": -1}, 422),
        ({"address": "erin@nowhere.test", "password": "x"}, 404),
    ]
    for payload, code in bad:
        status, body = call(server, "POST", "/api/v1/accounts", payload, token=token)
        assert status == code and body["error"], (payload, status, body)

    status, body = call(server, "PATCH", "/api/v1/accounts/dave@people.test",
                        {"quota_bytes": 0, "enabled": False, "password": "dave-pw-2"}, token=token)
    assert status == 200, body
    assert body["quota_bytes"] == 0 and body["enabled"] is False
    assert "disabled" in server.cli("account", "list", "--domain", "people.test").stdout
    status, body = call(server, "PATCH", "/api/v1/accounts/dave@people.test", {"enabled": True}, token=token)
    assert status == 200 and body["enabled"] is True
    server.pop3("dave@people.test", password="dave-pw-2").quit()
    status, body = call(server, "PATCH", "/api/v1/accounts/dave@people.test", {"quota_bytes": -5}, token=token)
    assert status == 422, body
    status, body = call(server, "PATCH", "/api/v1/accounts/nobody@people.test", {"enabled": True}, token=token)
    assert status == 404, body

    status, _ = call(server, "DELETE", "/api/v1/accounts/dave@people.test", token=token)
    assert status == 204
    status, body = call(server, "DELETE", "/api/v1/accounts/dave@people.test", token=token)
    assert status == 404, body
    assert call(server, "DELETE", "/api/v1/domains/people.test", token=token)[0] == 204


def test_live_log_shows_a_messages_events_in_order(server):
    req = urllib.request.Request(base(server) + "/api/v1/events",
                                 headers={"Authorization": f"Bearer {token_of(server)}"})
    resp = urllib.request.urlopen(req, timeout=30)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    events: queue.Queue = queue.Queue()

    def reader():
        try:
            for raw in resp:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("data:"):
                    events.put(json.loads(line[5:].strip()))
        except (OSError, ValueError, AttributeError):
            pass  # the test closed the stream

    threading.Thread(target=reader, daemon=True).start()
    try:
        t0 = time.monotonic()
        with smtplib.SMTP(*server.addr("smtp"), timeout=30) as c:
            c.ehlo("live-log.test")
            c.sendmail("sender@remote.test", ["alice@example.test"], b"Subject: live log\r\n\r\nhello\r\n")
            reply = c.noop()  # keep the session open until the message is accepted
            assert reply[0] == 250
        # Everything about this message, in the order the server did it, within a second.
        deadline = t0 + 1.0
        seen, session, queue_id = [], None, None
        while time.monotonic() < deadline:
            try:
                ev = events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            f = ev["fields"]
            if ev["message"] == "message accepted":
                session, queue_id = f["session"], f["message_id"]
                assert ev["level"] == "INFO" and ev["time"] and ev["target"]
                assert f["recipients"] == 1 and f["from"] == "sender@remote.test"
            mine = (session is not None and f.get("session") == session) or \
                (queue_id is not None and f.get("message_id") == queue_id) or \
                (ev["message"] == "smtp session started" and f.get("peer", "").startswith("127.0.0.1"))
            if mine:
                seen.append((ev["message"], f.get("session"), f.get("message_id")))
            if session is not None and ev["message"] == "smtp session ended" and f.get("session") == session:
                break
        names = [name for name, _, _ in seen if name in
                 ("smtp session started", "message accepted", "delivered locally", "smtp session ended")]
        assert queue_id, f"no 'message accepted' event within 1 s; saw {seen}"
        assert names[-4:] == ["smtp session started", "message accepted", "delivered locally",
                              "smtp session ended"], seen
        assert [s for name, s, _ in seen if name == "smtp session started"][-1] == session
    finally:
        resp.close()


def test_aliases(server):
    token = token_of(server)
    new = {"address": "Sales@example.test", "targets": ["alice@example.test", "boss@elsewhere.test"]}
    status, body = call(server, "POST", "/api/v1/aliases", new, token=token)
    assert status == 201, body
    assert body == {"address": "sales@example.test", "targets": ["alice@example.test", "boss@elsewhere.test"]}
    status, aliases = call(server, "GET", "/api/v1/aliases", token=token)
    assert status == 200 and body in aliases, aliases
    # The CLI's alias operations: it sees the same alias.
    assert "sales@example.test -> alice@example.test, boss@elsewhere.test" in server.cli("alias", "list").stdout
    bad = [
        ({"address": "sales@example.test", "targets": []}, 422, "at least one address"),
        ({"address": "not-an-address", "targets": ["alice@example.test"]}, 422, "not an e-mail address"),
        ({"address": "self@example.test", "targets": ["self@example.test"]}, 422, "itself"),
        ({"address": "alice@example.test", "targets": ["x@elsewhere.test"]}, 409, "already an account"),
        ({"address": "x@nowhere.test", "targets": ["alice@example.test"]}, 404, ""),
    ]
    for payload, code, words in bad:
        status, body = call(server, "POST", "/api/v1/aliases", payload, token=token)
        assert status == code and words in body["error"], (payload, status, body)
    status, _ = call(server, "DELETE", "/api/v1/aliases/sales@example.test?target=boss@elsewhere.test", token=token)
    assert status == 204
    aliases = call(server, "GET", "/api/v1/aliases", token=token)[1]
    assert {"address": "sales@example.test", "targets": ["alice@example.test"]} in aliases, aliases
    assert call(server, "DELETE", "/api/v1/aliases/bad%20address", token=token)[0] == 422
    assert call(server, "DELETE", "/api/v1/aliases/sales@example.test", token=token)[0] == 204
    status, body = call(server, "DELETE", "/api/v1/aliases/sales@example.test", token=token)
    assert status == 404 and "no alias" in body["error"], body
    assert call(server, "GET", "/api/v1/aliases", token=token)[1] == []


def test_lists(server):
    token = token_of(server)
    status, body = call(server, "POST", "/api/v1/lists", {"address": "Team@example.test"}, token=token)
    assert status == 201 and body == {"address": "team@example.test", "members": []}, body
    status, body = call(server, "POST", "/api/v1/lists", {"address": "team@example.test"}, token=token)
    assert status == 409 and "already in use" in body["error"], body
    status, body = call(server, "POST", "/api/v1/lists", {"address": "team"}, token=token)
    assert status == 422 and "not an e-mail address" in body["error"], body
    status, body = call(server, "POST", "/api/v1/lists/team@example.test/members",
                        {"address": "alice@example.test"}, token=token)
    assert status == 201 and body["members"] == ["alice@example.test"], body
    status, body = call(server, "POST", "/api/v1/lists/team@example.test/members",
                        {"address": "friend@remote.test"}, token=token)
    assert status == 201 and body["members"] == ["alice@example.test", "friend@remote.test"], body
    status, body = call(server, "POST", "/api/v1/lists/team@example.test/members",
                        {"address": "team@example.test"}, token=token)
    assert status == 422 and "itself" in body["error"], body
    status, body = call(server, "POST", "/api/v1/lists/none@example.test/members",
                        {"address": "alice@example.test"}, token=token)
    assert status == 404 and "no distribution list" in body["error"], body
    status, lists = call(server, "GET", "/api/v1/lists", token=token)
    assert status == 200 and lists == [{"address": "team@example.test",
                                        "members": ["alice@example.test", "friend@remote.test"]}], lists
    assert "team@example.test: alice@example.test, friend@remote.test" in server.cli("list", "show").stdout

    path = "/api/v1/lists/team@example.test/members/friend@remote.test"
    assert call(server, "DELETE", path, token=token)[0] == 204
    status, body = call(server, "DELETE", path, token=token)
    assert status == 404 and "not a member" in body["error"], body
    status, body = call(server, "DELETE", "/api/v1/lists/team@example.test/members/not%20valid", token=token)
    assert status == 422, body
    assert call(server, "DELETE", "/api/v1/lists/team@example.test", token=token)[0] == 204
    status, body = call(server, "DELETE", "/api/v1/lists/team@example.test", token=token)
    assert status == 404 and body["error"], body
    assert call(server, "DELETE", "/api/v1/lists/bad%20list", token=token)[0] == 422
    assert call(server, "GET", "/api/v1/lists", token=token)[1] == []


def test_catch_all(server):
    token = token_of(server)
    path = "/api/v1/domains/example.test/catch-all"
    status, body = call(server, "PUT", path, {"target": "Alice@example.test"}, token=token)
    assert status == 200 and body["name"] == "example.test" and body["catch_all"] == "alice@example.test", body
    assert "catch-all to alice@example.test" in server.cli("domain", "list").stdout
    status, body = call(server, "PUT", path, {"target": "nobody"}, token=token)
    assert status == 422 and "not an e-mail address" in body["error"], body
    status, body = call(server, "PUT", "/api/v1/domains/nowhere.test/catch-all", {"target": None}, token=token)
    assert status == 404 and body["error"], body
    status, body = call(server, "PUT", path, {"target": None}, token=token)
    assert status == 200 and body["catch_all"] is None, body
    assert "catch-all" not in server.cli("domain", "list").stdout


@pytest.fixture(scope="module")
def outbound_server(server_factory, test_dns, loopback):
    from conftest import outbound_settings

    return server_factory(settings=outbound_settings(test_dns, loopback, retry_schedule="1h", queue_poll_secs=1))


def queue_message(srv, message_id: str) -> dict | None:
    status, body = call(srv, "GET", f"/api/v1/queue/{message_id}", token=token_of(srv))
    return body if status == 200 else None


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_queue(outbound_server, test_dns, loopback):
    from mailroom import make_message

    srv = outbound_server
    token = token_of(srv)
    t = os.urandom(6).hex()
    domain = f"unreachable-{t}.test"
    # Its MX is a loopback address where nothing listens: every attempt fails.
    test_dns.mail_domain(domain, [(10, loopback.take())])
    rcpt = f"user@{domain}"
    msg = make_message("alice@example.test", rcpt, f"api queue {t}", f"Queued {t}.\r\n")
    qid = srv.deliver([rcpt], msg, sender="alice@example.test")

    entry = wait_until(lambda: (e := queue_message(srv, qid)) and e["status"] == "deferred" and e,
                       20, f"{qid} to be deferred")
    assert entry["id"] == qid and entry["sender"] == "alice@example.test", entry
    assert entry["attempts"] == 1 and entry["last_error"], entry
    assert [r["address"] for r in entry["recipients"]] == [rcpt], entry
    assert entry["recipients"][0]["status"] == "deferred", entry

    status, listing = call(srv, "GET", "/api/v1/queue", token=token)
    assert status == 200 and listing["paused"] is False, listing
    assert qid in [m["id"] for m in listing["messages"]], listing
    for query, present in [(f"domain={domain}", True), ("domain=other.test", False),
                           ("status=deferred", True), ("status=queued", False),
                           (f"domain={domain.upper()}&status=deferred", True)]:
        status, listing = call(srv, "GET", f"/api/v1/queue?{query}", token=token)
        assert status == 200 and (qid in [m["id"] for m in listing["messages"]]) == present, (query, listing)
    status, body = call(srv, "GET", "/api/v1/queue?status=lost", token=token)
    assert status == 422 and "not a queue status" in body["error"], body
    status, body = call(srv, "GET", "/api/v1/queue?domain=bad%20domain", token=token)
    assert status == 422 and body["error"], body
    # The CLI sees the same queue.
    assert qid in srv.cli("queue", "list").stdout

    # A retry makes it due now: the scheduler tries again within a poll, not in an hour.
    status, body = call(srv, "POST", f"/api/v1/queue/{qid}/retry", token=token)
    assert status == 200 and body == {"recipients": 1, "paused": False}, body
    wait_until(lambda: (e := queue_message(srv, qid)) and e["attempts"] >= 2, 15, f"{qid} to be tried again")
    status, body = call(srv, "POST", "/api/v1/queue/retry-all", token=token)
    assert status == 200 and body["recipients"] >= 1, body
    wait_until(lambda: (e := queue_message(srv, qid)) and e["attempts"] >= 3, 15, f"{qid} to be tried a third time")

    status, body = call(srv, "POST", "/api/v1/queue/pause", token=token)
    assert status == 200 and body["paused"] is True, body
    assert call(srv, "GET", "/api/v1/queue", token=token)[1]["paused"] is True
    assert queue_message(srv, qid)["status"] == "paused"
    assert "paused" in srv.cli("queue", "list").stdout
    time.sleep(1.5)
    attempts = queue_message(srv, qid)["attempts"]
    assert call(srv, "POST", f"/api/v1/queue/{qid}/retry", token=token)[1]["paused"] is True
    time.sleep(3)
    assert queue_message(srv, qid)["attempts"] == attempts, "tried while delivery was paused"
    status, body = call(srv, "POST", "/api/v1/queue/resume", token=token)
    assert status == 200 and body["paused"] is False, body
    wait_until(lambda: (e := queue_message(srv, qid)) and e["attempts"] > attempts, 15, f"{qid} to be tried after resume")
    assert "paused" not in srv.cli("queue", "list").stdout

    for method, path in [("GET", "/api/v1/queue/not-an-id!"), ("POST", "/api/v1/queue/not-an-id!/retry"),
                         ("DELETE", "/api/v1/queue/not-an-id!")]:
        status, body = call(srv, method, path, token=token)
        assert status == 422 and "not a message id" in body["error"], (path, body)
    wait_until(lambda: queue_message(srv, qid)["recipients"][0]["status"] != "sending", 15, "the attempt to end")
    assert call(srv, "DELETE", f"/api/v1/queue/{qid}", token=token)[0] == 204
    for method, path in [("GET", f"/api/v1/queue/{qid}"), ("POST", f"/api/v1/queue/{qid}/retry"),
                         ("DELETE", f"/api/v1/queue/{qid}")]:
        status, body = call(srv, method, path, token=token)
        assert status == 404 and "no queued message" in body["error"], (path, body)
    assert qid not in [m["id"] for m in call(srv, "GET", "/api/v1/queue", token=token)[1]["messages"]]
    assert qid not in srv.cli("queue", "list").stdout
