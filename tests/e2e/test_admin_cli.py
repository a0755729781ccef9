"""The admin CLI: exit codes, plain error messages, and effects on a server."""

from __future__ import annotations

import poplib

import pytest

from mailroom import PASSWORDS, make_message, retr_bytes

ALICE = "alice@example.test"


@pytest.mark.parametrize("args", [
    ["account", "add", ALICE, "--password", "x"],              # exists already
    ["account", "add", "zed@nowhere.test", "--password", "x"],  # domain not served
    ["account", "passwd", "nobody@example.test", "--password", "x"],
    ["list", "member-add", "nolist@example.test", ALICE],
    ["settings", "set", "max_message_size", "banana"],
    ["settings", "set", "trusted_networks", "10.0.0.0/33"],
], ids=["dup-account", "unknown-domain", "passwd-unknown", "no-list", "bad-size", "bad-cidr"])
def test_errors_exit_non_zero_with_a_plain_message(server, args):
    res = server.cli(*args, check=False)
    assert res.returncode != 0
    text = (res.stderr + res.stdout).strip()
    assert text, "no message on error"
    assert "panicked" not in text and "RUST_BACKTRACE" not in text, text


def test_admin_commands_succeed_while_serving(server):
    assert server.cli("domain", "add", "second.test").returncode == 0
    assert server.cli("account", "add", "erin@second.test", "--password", "erin-pw").returncode == 0
    assert server.cli("alias", "add", "info@second.test", "erin@second.test").returncode == 0
    assert server.cli("list", "add", "all@second.test").returncode == 0
    assert server.cli("list", "member-add", "all@second.test", ALICE).returncode == 0


def test_new_account_usable_after_restart(server):
    server.cli("domain", "add", "third.test")
    server.cli("account", "add", "finn@third.test", "--password", "finn-pw")
    server.restart()
    msg = make_message("x@remote.test", "finn@third.test", "hello finn", "hi\r\n")
    server.deliver("finn@third.test", msg)
    p = server.pop3("finn@third.test", "finn-pw")
    try:
        assert p.stat()[0] == 1
        assert retr_bytes(p, 1).endswith(msg)
    finally:
        p.quit()


def test_passwd_changes_the_password(server):
    server.cli("account", "passwd", ALICE, "--password", "changed-pw")
    server.restart()
    p = server.pop3()
    p.user(ALICE)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_(PASSWORDS[ALICE])
    assert e.value.args[0].startswith(b"-ERR [AUTH]")
    p.close()
    p = server.pop3(ALICE, "changed-pw")
    p.quit()
    with server.smtp("submissions") as c:
        c.ehlo()
        assert c.auth_plain(ALICE, "changed-pw").startswith("235")


def test_admin_commands_while_mail_arrives_lose_nothing(fresh_server):
    # Admin commands open the store while the server is writing messages into
    # it. Every message the server acknowledged must still be readable, so no
    # command may clean up a file whose database row is about to be committed.
    import threading

    stop = threading.Event()
    runs = []

    def admin_loop():
        while not stop.is_set():
            fresh_server.cli("queue", "list", "--json")
            fresh_server.cli("account", "list")
            runs.append(1)

    th = threading.Thread(target=admin_loop, daemon=True)
    th.start()
    sent = []
    try:
        for i in range(150):
            token = f"admin-race-{i}"
            fresh_server.deliver([ALICE], make_message("x@remote.test", ALICE, token, f"{token}\r\n"))
            sent.append(token)
    finally:
        stop.set()
        th.join(60)
    assert len(runs) >= 5, "the admin loop barely ran; the test shows nothing"
    stored = fresh_server.mailbox(ALICE)
    missing = [t for t in sent if not any(t.encode() in m for m in stored)]
    assert not missing, f"{len(missing)} acknowledged message(s) unreadable: {missing[:5]}"
