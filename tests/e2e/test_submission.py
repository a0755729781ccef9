"""Message submission on ports N+587 (STARTTLS) and N+465 (implicit TLS)."""

from __future__ import annotations

import smtplib
import subprocess
import uuid

import pytest

from conftest import require_program
from mailroom import PASSWORDS, RawSMTP, client_tls_context, make_message, split_trace, which

ALICE, BOB, CAROL = "alice@example.test", "bob@example.test", "carol@example.test"


def token() -> str:
    return uuid.uuid4().hex


def find(messages: list[bytes], tok: str) -> list[bytes]:
    return [m for m in messages if tok.encode() in m]


def wait_for_token(server, user: str, tok: str) -> bytes:
    import time
    deadline = time.monotonic() + 10
    while True:
        hits = find(server.mailbox(user), tok)
        if hits or time.monotonic() > deadline:
            assert len(hits) == 1, f"expected exactly one message with {tok} in {user}'s mailbox, got {len(hits)}"
            return hits[0]
        time.sleep(0.1)


# ---------------------------------------------------------------- EHLO

def test_587_offers_starttls_and_no_auth_before_tls(server):
    with server.smtp("submission") as c:
        assert c.greeting.code == 220, c.greeting
        ext = c.extensions(c.ehlo())
        assert "STARTTLS" in ext
        assert "AUTH" not in ext, f"AUTH advertised in cleartext: {ext}"
        c.starttls()
        ext = c.extensions(c.ehlo())
        assert "STARTTLS" not in ext, "STARTTLS still offered inside TLS"
        assert "AUTH" in ext
        assert set(ext["AUTH"].upper().split()) >= {"PLAIN", "LOGIN"}, ext["AUTH"]


def test_465_is_tls_from_the_start_and_offers_auth(server):
    with server.smtp("submissions") as c:
        assert c.greeting.code == 220, c.greeting
        ext = c.extensions(c.ehlo())
        assert "STARTTLS" not in ext
        assert set(ext["AUTH"].upper().split()) >= {"PLAIN", "LOGIN"}, ext


@pytest.mark.parametrize("port", ["smtp", "submission", "submissions"])
def test_ehlo_extensions(server, port):
    with server.smtp(port) as c:
        ext = c.extensions(c.ehlo())
        for word in ("PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING"):
            assert word in ext, f"{word} missing on {port}: {ext}"
        assert ext["SIZE"] == "26214400", ext
        if port != "submissions":
            assert "STARTTLS" in ext


def test_port_25_never_offers_auth(server):
    with server.smtp("smtp") as c:
        assert "AUTH" not in c.extensions(c.ehlo())
        c.starttls()
        ext = c.extensions(c.ehlo())
        assert "AUTH" not in ext, ext
        assert "STARTTLS" not in ext


# ---------------------------------------------------------------- 530 before AUTH

def test_mail_before_auth_is_530_on_587(server):
    with server.smtp("submission") as c:
        c.ehlo()
        # Before TLS as well as after it: MAIL needs AUTH on the submission port.
        assert c.cmd(f"MAIL FROM:<{ALICE}>").startswith("530 5.7.0")
        c.starttls()
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<{ALICE}>")
        assert r.startswith("530 5.7.0"), r
        # The session is still usable: authenticate and submit.
        assert c.auth_plain(ALICE, PASSWORDS[ALICE]).startswith("235"), "AUTH after 530 failed"
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250


def test_mail_before_auth_is_530_on_465(server):
    with server.smtp("submissions") as c:
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<{ALICE}>")
        assert r.startswith("530 5.7.0"), r


def test_auth_refused_in_cleartext_on_587(server):
    with server.smtp("submission") as c:
        c.ehlo()
        r = c.auth_plain(ALICE, PASSWORDS[ALICE])
        assert 500 <= r.code < 600, f"AUTH accepted or not refused before TLS: {r}"
        assert c.cmd(f"MAIL FROM:<{ALICE}>").startswith("530 5.7.0")


def test_wrong_password_is_535(server):
    with server.smtp("submissions") as c:
        c.ehlo()
        r = c.auth_plain(ALICE, "not-the-password")
        assert r.startswith("535 5.7.8"), r
        assert c.cmd(f"MAIL FROM:<{ALICE}>").startswith("530 5.7.0")


# ---------------------------------------------------------------- smtplib

def test_smtplib_starttls_plain_on_587(server):
    tok = token()
    s = server.smtplib("submission")
    try:
        s.ehlo()
        assert not s.has_extn("auth")
        s.starttls(context=client_tls_context())
        s.ehlo()
        s.login(ALICE, PASSWORDS[ALICE])
        msg = make_message(ALICE, BOB, f"submission {tok}", f"hello bob {tok}\r\n")
        refused = s.sendmail(ALICE, [BOB], msg)
        assert refused == {}
        code, text = s.noop()
        assert code == 250
    finally:
        s.quit()
    stored = wait_for_token(server, BOB, tok)
    sender, _received, rest = split_trace(stored)
    assert sender == ALICE.encode()
    assert rest == msg


def test_smtplib_auth_login_mechanism(server):
    tok = token()
    s = server.smtplib("submission")
    try:
        s.starttls(context=client_tls_context())
        s.ehlo()
        s.user, s.password = CAROL, PASSWORDS[CAROL]
        code, resp = s.auth("LOGIN", s.auth_login)
        assert code == 235, resp
        msg = make_message(CAROL, ALICE, f"login {tok}", tok)
        assert s.sendmail(CAROL, [ALICE], msg) == {}
    finally:
        s.quit()
    assert split_trace(wait_for_token(server, ALICE, tok))[2] == msg


def test_smtplib_ssl_on_465(server):
    tok = token()
    s = server.smtplib("submissions")
    try:
        s.login(CAROL, PASSWORDS[CAROL])
        msg = make_message(CAROL, ALICE, f"implicit tls {tok}", f"{tok}\r\n")
        data_reply = None
        s.mail(CAROL)
        s.rcpt(ALICE)
        data_reply = s.data(msg)
        assert data_reply[0] == 250
        assert data_reply[1].decode().startswith("2.0.0 Ok: queued as "), data_reply
    finally:
        s.quit()
    sender, _, rest = split_trace(wait_for_token(server, ALICE, tok))
    assert sender == CAROL.encode()
    assert rest == msg


def test_smtplib_wrong_password_raises(server):
    s = server.smtplib("submissions")
    try:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login(BOB, "wrong")
        assert e.value.smtp_code == 535
        assert e.value.smtp_error.startswith(b"5.7.8")
    finally:
        s.close()


# ---------------------------------------------------------------- swaks

def _swaks(server, port_name: str, tls_flag: str, tok: str) -> subprocess.CompletedProcess:
    host, port = server.addr(port_name)
    cmd = [
        "swaks", "--server", host, "--port", str(port), tls_flag,
        "--auth", "PLAIN", "--auth-user", BOB, "--auth-password", PASSWORDS[BOB],
        "--from", BOB, "--to", CAROL,
        "--header", f"Subject: swaks {tok}", "--body", f"swaks body {tok}",
        "--timeout", "30",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("port_name,flag", [("submission", "--tls"), ("submissions", "--tlsc")])
def test_swaks(server, port_name, flag):
    require_program("swaks")
    tok = token()
    res = _swaks(server, port_name, flag, tok)
    assert res.returncode == 0, f"swaks failed:\n{res.stdout}\n{res.stderr}"
    assert "250 2.0.0 Ok: queued as" in res.stdout, res.stdout
    assert "235 " in res.stdout, "no successful AUTH in the swaks transcript"
    stored = wait_for_token(server, CAROL, tok)
    sender, _, rest = split_trace(stored)
    assert sender == BOB.encode()
    assert f"Subject: swaks {tok}\r\n".encode() in rest
    assert f"swaks body {tok}\r\n".encode() in rest


def test_swaks_wrong_password_fails(server):
    require_program("swaks")
    host, port = server.addr("submission")
    res = subprocess.run(
        ["swaks", "--server", host, "--port", str(port), "--tls", "--auth", "PLAIN",
         "--auth-user", CAROL, "--auth-password", "nope", "--from", CAROL, "--to", ALICE,
         "--timeout", "30"],
        capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert "535 5.7.8" in res.stdout, res.stdout


def test_logged_in_user_sends_only_as_themselves(server):
    # Logged in as alice, mail from bob's address is refused; alice's own is fine.
    with RawSMTP(*server.addr("submissions"), implicit_tls=True) as c:
        c.ehlo()
        assert c.auth_plain(ALICE, PASSWORDS[ALICE]).code == 235
        r = c.cmd("MAIL FROM:<bob@example.test>")
        assert r.startswith("553 5.7.1"), r
        assert "bob@example.test" in r.full
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
