"""Logs query, message trace and statistics, through the admin API and the CLI.

Messages are sent over SMTP with smtplib, to a local mailbox and to a remote
domain whose MX (a scripted peer found through the test DNS server) first
defers and then refuses the recipient; then the log search finds their
events, the trace tells their story (receipt, local delivery, attempts,
bounce), and the statistics have counted them.
"""

from __future__ import annotations

import re
import smtplib
import uuid

import pytest

from conftest import outbound_settings
from mailroom import PASSWORDS, wait_for
from test_admin_api import call, token_of

ALICE = "alice@example.test"
QUEUED = re.compile(r"queued as ([0-9A-Za-z]+)")


def tok() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def server(server_factory, test_dns, loopback):
    return server_factory(settings=outbound_settings(test_dns, loopback))


def get(srv, path: str):
    return call(srv, "GET", path, token=token_of(srv))


def send(srv, sender: str, rcpts: list[str], token: str) -> str:
    """Sends one message with smtplib on the MX port (loopback is trusted); returns its id."""
    msg = (
        f"From: <{sender}>\r\nTo: <{rcpts[0]}>\r\nSubject: observe {token}\r\n"
        f"Message-ID: <{token}@client.test>\r\n\r\nHello, token {token}.\r\n"
    )
    s = srv.smtplib("smtp")
    try:
        s.ehlo("client.test")
        code, _ = s.mail(sender)
        assert code == 250
        for r in rcpts:
            code, reply = s.rcpt(r)
            assert code == 250, (r, reply)
        code, reply = s.data(msg.encode())
        assert code == 250, reply
        m = QUEUED.search(reply.decode())
        assert m, reply
        return m.group(1)
    finally:
        s.quit()


def logs(srv, **params) -> list[dict]:
    from urllib.parse import urlencode
    status, body = get(srv, "/api/v1/logs?" + urlencode(params))
    assert status == 200, body
    return body


def wait_logs(srv, what: str, predicate, timeout: float = 10, **params) -> list[dict]:
    """The log files are written in the background: poll until `predicate(entries)`."""
    last: list = []

    def ok():
        nonlocal last
        last = logs(srv, **params)
        return predicate(last)

    try:
        wait_for(ok, timeout, interval=0.2, what=what)
    except AssertionError as e:
        raise AssertionError(f"{e}; last answer: {last[:20]}") from None
    return last


def events(entries: list[dict]) -> list[str]:
    return [e["message"] for e in entries]


def trace(srv, message_id: str) -> dict:
    status, body = get(srv, f"/api/v1/messages/{message_id}/trace")
    assert status == 200, body
    return body


def stat(srv, metric: str, scope: str = "", granularity: str = "minute") -> int:
    from urllib.parse import urlencode
    q = {"granularity": granularity, "metric": metric}
    if scope:
        q["scope"] = scope
    status, body = get(srv, "/api/v1/stats?" + urlencode(q))
    assert status == 200, body
    return sum(s["total"] for s in body["series"])


@pytest.fixture(scope="module")
def local_message(server):
    t = tok()
    before = {
        "received": stat(server, "received"),
        "delivered_local": stat(server, "delivered_local"),
        "mailbox": stat(server, "received", ALICE),
        "domain": stat(server, "delivered_local", "example.test"),
    }
    mid = send(server, "sender@remote.test", [ALICE], t)
    wait_logs(server, "the receipt in the log", lambda es: "message accepted" in events(es), message=mid)
    return mid, t, before


# --------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------

NEW = ["/api/v1/logs", "/api/v1/messages/abc123/trace", "/api/v1/stats", "/api/v1/stats/summary"]


@pytest.mark.parametrize("path", NEW)
def test_401_without_credentials(server, path):
    for token in (None, "0" * 64):
        status, body = call(server, "GET", path, token=token)
        assert status == 401, body
        assert body["error"]


def test_openapi_lists_the_new_paths(server):
    status, doc = call(server, "GET", "/api/v1/openapi.json")
    assert status == 200
    for p in ["/api/v1/logs", "/api/v1/messages/{id}/trace", "/api/v1/stats", "/api/v1/stats/summary"]:
        assert p in doc["paths"], p


# --------------------------------------------------------------------------
# Log query
# --------------------------------------------------------------------------


def test_logs_find_a_message_by_id_and_its_session(server, local_message):
    mid, t, _ = local_message
    found = wait_logs(server, "local delivery in the log", lambda es: "delivered locally" in events(es), message=mid)
    assert all(e["message_id"] == mid for e in found)
    accepted = next(e for e in found if e["message"] == "message accepted")
    assert accepted["protocol"] == "smtp" and accepted["level"] == "INFO"
    assert accepted["fields"]["from"] == "sender@remote.test"
    assert accepted["fields"]["peer"] == "127.0.0.1"
    assert ALICE in accepted["fields"]["recipient_list"]
    assert "message" not in accepted["fields"] and "message_id" not in accepted["fields"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", accepted["time"])
    session = accepted["session"]
    in_session = logs(server, session=session, limit=5000)
    names = events(in_session)
    assert "smtp session started" in names and "message accepted" in names
    assert all(e.get("session") == session for e in in_session)
    # Newest first.
    times = [e["time"] for e in in_session]
    assert times == sorted(times, reverse=True)


def test_logs_filters(server, local_message):
    mid, t, _ = local_message
    warn_and_up = logs(server, level="warn", limit=5000)
    assert all(e["level"] in ("WARN", "ERROR") for e in warn_and_up)
    smtp = logs(server, protocol="smtp", limit=5000)
    assert smtp and all(e["protocol"] == "smtp" for e in smtp)
    by_text = logs(server, text="MESSAGE ACCEPTED", limit=5000)
    assert mid in [e.get("message_id") for e in by_text]
    assert all("message accepted" in str(e).lower() for e in by_text)
    by_sender = logs(server, text="SENDER@REMOTE.TEST", message=mid)
    assert "message accepted" in events(by_sender)
    assert logs(server, limit=1).__len__() == 1
    assert logs(server, message=mid, to="2000-01-01T00:00:00Z") == []
    assert logs(server, message=mid, **{"from": "2000-01-01T00:00:00Z"})


@pytest.mark.parametrize("query", [
    "from=yesterday", "to=2026-13-45", "level=loud", "protocol=ftp", "limit=0", "limit=5001", "limit=lots",
    "session=x", "from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z",
])
def test_logs_bad_parameters_422(server, query):
    status, body = get(server, "/api/v1/logs?" + query)
    assert status == 422, body
    assert body["error"]


# --------------------------------------------------------------------------
# Trace
# --------------------------------------------------------------------------


def test_trace_of_a_local_delivery(server, local_message):
    mid, t, _ = local_message
    tr = wait_for(lambda: (lambda x: x if any(s["event"] == "delivered locally" for s in x["steps"]) else None)(
        trace(server, mid)), 10, what="a complete trace")
    assert tr["message_id"] == mid
    assert tr["status"] == "delivered", tr
    names = [s["event"] for s in tr["steps"]]
    assert names.index("smtp session started") < names.index("message accepted") < names.index("delivered locally")
    receipt = next(s for s in tr["steps"] if s["event"] == "message accepted")
    assert "sender@remote.test" in receipt["summary"] and "127.0.0.1" in receipt["summary"]
    local = next(s for s in tr["steps"] if s["event"] == "delivered locally")
    assert ALICE in local["summary"]
    assert tr["queue"] is None
    assert tr["summary"]


def test_trace_unknown_and_bad_ids(server):
    status, body = get(server, "/api/v1/messages/ffffffffffff0000/trace")
    assert status == 404 and body["error"]
    status, body = get(server, "/api/v1/messages/not-an-id!/trace")
    assert status == 422 and body["error"]


def test_trace_of_a_remote_delivery_deferred_then_bounced(server, test_dns, smtp_peers):
    t = tok()
    domain = f"obs-{t}.test"
    rcpt = f"nobody@{domain}"
    peer = smtp_peers()
    peer.on_rcpt("451 4.7.1 Greylisted, try again shortly", times=1)
    peer.on_rcpt(f"550 5.1.1 <{rcpt}>: no such user {t}")
    test_dns.mail_domain(domain, [(10, peer.ip)])
    bounced_before = stat(server, "bounced", domain)
    mid = send(server, ALICE, [rcpt], t)

    def done():
        tr = trace(server, mid)
        return tr if any(s["event"] == "delivery report sent" for s in tr["steps"]) else None

    tr = wait_for(done, 30, interval=0.3, what="the bounce in the trace")
    names = [s["event"] for s in tr["steps"]]
    assert names.index("message accepted") < names.index("delivery deferred") < names.index("delivery failed")
    assert names.index("delivery failed") < names.index("delivery report sent")
    assert tr["status"] == "bounced", tr
    deferred = next(s for s in tr["steps"] if s["event"] == "delivery deferred")
    assert "Greylisted" in deferred["summary"] and "Next attempt" in deferred["summary"]
    assert deferred["fields"]["host"], deferred
    failed = next(s for s in tr["steps"] if s["event"] == "delivery failed")
    assert rcpt in failed["summary"] and f"no such user {t}" in failed["summary"]
    report = next(s for s in tr["steps"] if s["event"] == "delivery report sent")
    assert "bounce" in report["summary"] and ALICE in report["summary"]
    assert all(s["protocol"] == "delivery" for s in tr["steps"] if s["event"].startswith("deliver"))
    assert tr["queue"] is None
    assert stat(server, "bounced", domain) == bounced_before + 1
    assert stat(server, "deferred", domain) >= 1
    # The delivery events can be found by protocol and text too.
    found = logs(server, protocol="delivery", text=f"no such user {t}")
    assert "delivery failed" in events(found)


def test_trace_shows_a_message_still_queued(server, test_dns, smtp_peers):
    t = tok()
    domain = f"obsq-{t}.test"
    peer = smtp_peers()
    peer.on_rcpt("451 4.3.0 Not now")
    test_dns.mail_domain(domain, [(10, peer.ip)])
    mid = send(server, ALICE, [f"x@{domain}"], t)
    tr = wait_for(lambda: (lambda x: x if x["queue"] and x["queue"]["attempts"] >= 1 else None)(trace(server, mid)),
                  20, interval=0.3, what="an attempt recorded in the queue")
    assert tr["status"] == "queued"
    assert tr["queue"]["recipients"][0]["address"] == f"x@{domain}"
    call(server, "DELETE", f"/api/v1/queue/{tr['queue']['id']}", token=token_of(server))


# --------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------


def test_stats_count_received_and_local_deliveries(server, local_message):
    mid, t, before = local_message

    def counted():
        return (stat(server, "received") >= before["received"] + 1
                and stat(server, "received", ALICE) >= before["mailbox"] + 1
                and stat(server, "delivered_local", "example.test") >= before["domain"] + 1)

    wait_for(counted, 15, interval=0.5, what="the statistics to count the message")
    assert stat(server, "delivered_local") >= before["delivered_local"] + 1
    # Hours and days hold the same counts.
    assert stat(server, "received", ALICE, granularity="hour") >= 1
    assert stat(server, "received", ALICE, granularity="day") >= 1
    status, every = get(server, "/api/v1/stats?granularity=minute&scope=*")
    assert status == 200
    scopes = {(s["metric"], s["scope"]) for s in every["series"]}
    assert ("received", ALICE) in scopes and ("received", "example.test") in scopes
    status, summary = get(server, "/api/v1/stats/summary")
    assert status == 200, summary
    assert summary["today"]["received"] >= 1 and summary["last_hour"]["received"] >= 1
    assert summary["today_by_mailbox"][ALICE]["received"] >= 1
    assert summary["today_by_domain"]["example.test"]["delivered_local"] >= 1


def test_stats_count_refusals_and_auth_failures(server):
    rejected = stat(server, "rejected_unknown_user")
    failures = stat(server, "auth_failures")
    s = server.smtplib("smtp")
    try:
        s.ehlo("client.test")
        s.mail("sender@remote.test")
        code, _ = s.rcpt(f"nobody-{tok()}@example.test")
        assert code == 550
    finally:
        s.quit()
    import poplib
    with pytest.raises(poplib.error_proto):
        server.pop3(ALICE, password="wrong-" + PASSWORDS[ALICE])
    wait_for(lambda: stat(server, "rejected_unknown_user") == rejected + 1
             and stat(server, "auth_failures") == failures + 1, 15, interval=0.5, what="the refusal and failure")
    assert stat(server, "rejected") >= 1


@pytest.mark.parametrize("query", ["granularity=week", "from=soon", "from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z"])
def test_stats_bad_parameters_422(server, query):
    status, body = get(server, "/api/v1/stats?" + query)
    assert status == 422, body
    assert body["error"]


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def test_cli_trace_and_logs(server, local_message):
    mid, t, _ = local_message
    out = server.cli("trace", mid).stdout
    assert f"Message {mid}: delivered." in out, out
    assert "Received from <sender@remote.test>" in out and ALICE in out
    out = server.cli("logs", "--message", mid, "--since", "1h").stdout
    assert "message accepted" in out and "delivered locally" in out and f"message_id={mid}" in out
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines.index(next(x for x in lines if "message accepted" in x)) < \
        lines.index(next(x for x in lines if "delivered locally" in x)), "oldest first on the screen"
    out = server.cli("logs", "--protocol", "smtp", "--level", "info", "--limit", "5").stdout
    assert 1 <= len(out.strip().splitlines()) <= 5 and all(" smtp " in x for x in out.strip().splitlines())
    bad = server.cli("logs", "--level", "loud", check=False)
    assert bad.returncode == 1 and "not a log level" in bad.stderr
    missing = server.cli("trace", "ffffffffffff0000", check=False)
    assert missing.returncode == 1 and "nothing is known" in missing.stderr


def test_cli_stats(server, local_message):
    wait_for(lambda: "received" in server.cli("stats", "--granularity", "minute", "--since", "1h").stdout, 15,
             interval=0.5, what="received in mailroomd stats")
    out = server.cli("stats", "--granularity", "hour", "--since", "24h", "--scope", ALICE).stdout
    assert f"received [{ALICE}]" in out, out
    bad = server.cli("stats", "--granularity", "week", check=False)
    assert bad.returncode == 1 and "granularity" in bad.stderr


def test_stats_counted_at_warn_level_and_saved_at_shutdown(server_factory, monkeypatch):
    monkeypatch.setenv("RUST_LOG", "warn")
    srv = server_factory()
    send(srv, "sender@remote.test", [ALICE], tok())
    # Stopped before the next periodic flush: the last counts are saved on the way out.
    srv.stop()
    out = srv.cli("stats", "--granularity", "minute", "--since", "1h", "--scope", ALICE, "--json").stdout
    import json
    answer = json.loads(out)
    totals = {s["metric"]: s["total"] for s in answer["series"]}
    assert totals.get("received") == 1 and totals.get("delivered_local") == 1, answer
    # Nothing at info level reached the log files, so there is nothing to trace.
    assert "message accepted" not in srv.cli("logs", "--since", "1h").stdout
