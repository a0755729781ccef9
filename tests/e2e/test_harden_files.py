"""What other local users can read of a data directory: nothing.

The server and the admin CLI create every directory owner-only (0700) and
every file owner-only (0600) whatever the umask they were started with, and
tighten a data directory left open by an older version. DKIM private keys
are stored encrypted with `secret.key`, like relay passwords.
"""

from __future__ import annotations

import base64
import binascii
import os
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from mailroom import MailServer

MESSAGE = (
    b"From: sender@remote.test\r\n"
    b"To: alice@example.test\r\n"
    b"Subject: private files\r\n"
    b"\r\n"
    b"Only alice and the server may read this.\r\n"
)

# DER object identifiers that any PKCS#8 RSA or Ed25519 key contains.
RSA_OID = bytes.fromhex("06092a864886f70d010101")
ED25519_OID = bytes.fromhex("06032b6570")


@pytest.fixture
def umask_022():
    """Runs the test's servers and commands with the common umask 022."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def modes(root: Path) -> dict[str, int]:
    """Permission bits of the directory and everything under it, by relative path."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            found[str(p.relative_to(root))] = stat.S_IMODE(p.lstat().st_mode)
    return found


def assert_owner_only(root: Path) -> dict[str, int]:
    found = modes(root)
    wrong = {}
    for rel, mode in found.items():
        want = 0o700 if (root / rel).is_dir() else 0o600
        if mode != want:
            wrong[rel] = oct(mode)
    assert not wrong, f"readable by others (want dirs 0700, files 0600): {wrong}"
    return found


def test_served_data_directory_is_owner_only(umask_022, server_factory):
    srv = server_factory(start=False)
    # A data directory from an older version: open to everyone.
    os.chmod(srv.data_dir, 0o755)
    srv.cli("relay", "set", "relay.example.test", "--domain", "elsewhere.test", "--user", "u",
            "--password", "relay-secret")
    srv.start()
    srv.deliver("alice@example.test", MESSAGE)
    assert len(srv.wait_mailbox("alice@example.test", 1)) == 1
    srv.cli("settings", "set", "max_recipients", "99")  # the CLI beside the running server
    found = assert_owner_only(srv.data_dir)
    # The walk saw what matters: the database with its WAL files, a message
    # file, the logs, the run-time files and the keys.
    names = set(found)
    for expected in ("mailroom.db", "mailroom.db-wal", "mailroom.db-shm", "runtime.json", "admin.token",
                     "secret.key", "messages", "messages/tmp", "logs", "tls", "tls/key.pem", "tls/cert.pem"):
        assert expected in names, f"{expected} missing from {sorted(names)}"
    assert any(n.startswith("messages/") and n.endswith(".eml") for n in names), sorted(names)
    assert any(n.startswith("logs/mailroom.") for n in names), sorted(names)
    srv.stop()
    assert_owner_only(srv.data_dir)


def test_cli_creates_a_private_data_directory(umask_022, mailroomd, tmp_path):
    data = tmp_path / "parent" / "data"
    res = subprocess.run([str(mailroomd), "--data-dir", str(data), "domain", "add", "example.test"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    found = assert_owner_only(data)
    assert "mailroom.db" in found and "messages" in found, sorted(found)


def stored_dkim_keys(data_dir: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(data_dir / "mailroom.db") as db:
        return db.execute("SELECT id, private_key FROM dkim_keys ORDER BY id").fetchall()


def assert_sealed(value: str) -> None:
    assert "PRIVATE KEY" not in value and "-----" not in value, value[:60]
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error:
        raw = value.encode()
    assert RSA_OID not in raw and ED25519_OID not in raw, "the stored value is a bare key"


def test_dkim_private_keys_are_encrypted_at_rest(server_factory):
    srv = server_factory(start=False)
    keys = stored_dkim_keys(srv.data_dir)
    assert len(keys) == 2, keys
    for _, value in keys:
        assert_sealed(value)
    assert (srv.data_dir / "secret.key").exists()


def test_plain_dkim_keys_of_older_versions_are_encrypted_at_start(server_factory, tmp_path):
    srv = server_factory(start=False)
    # What an older version stored: the PEM text itself.
    pem = subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519"], capture_output=True, text=True,
                         check=True).stdout
    assert "PRIVATE KEY" in pem
    with sqlite3.connect(srv.data_dir / "mailroom.db") as db:
        db.execute("UPDATE dkim_keys SET private_key = ? WHERE algorithm = 'ed25519'", (pem,))
    srv.start()
    keys = stored_dkim_keys(srv.data_dir)
    assert len(keys) == 2
    for _, value in keys:
        assert_sealed(value)
    assert "DKIM" in srv.cli("dkim", "show", "example.test").stdout


def test_missing_secret_key_is_a_plain_error(server_factory):
    srv = server_factory(start=False)
    (srv.data_dir / "secret.key").unlink()
    # Adding a domain needs the key that sealed the others: a sentence, not a panic.
    res = srv.cli("domain", "add", "second.test", check=False)
    assert res.returncode != 0
    assert "secret.key" in res.stderr and "panicked" not in res.stderr, res.stderr
    (srv.data_dir / "secret.key").write_bytes(b"short")
    res = srv.cli("domain", "add", "third.test", check=False)
    assert res.returncode != 0
    assert "secret.key" in res.stderr and "panicked" not in res.stderr, res.stderr
