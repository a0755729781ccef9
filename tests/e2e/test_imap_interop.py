"""IMAP interoperability with real clients: mbsync (isync), curl and fetchmail.

mbsync syncs a 1,000-message account to a local Maildir and back, flags
included; curl fetches a message and lists mailboxes over `imaps://` (and
`imap://` with STARTTLS).
"""

from __future__ import annotations

import imaplib
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import require_program
from mailroom import PASSWORDS

ALICE, BOB, CAROL = "alice@example.test", "bob@example.test", "carol@example.test"

SYNC_COUNT = 1000
MSGID_RE = re.compile(rb"^Message-ID: <([^>]+)>", re.M | re.I)
# Maildir info letters and the IMAP flags mbsync maps them to.
MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}


def check(resp, what: str):
    """imaplib returns (typ, data): anything but OK fails the test with the server's words."""
    typ, data = resp
    assert typ == "OK", f"{what}: {typ} {data!r}"
    return data


def sync_message(i: int) -> bytes:
    return (
        f"From: Sync Source <source@remote.test>\r\n"
        f"To: {BOB}\r\n"
        f"Subject: sync test {i}\r\n"
        f"Date: Mon, 03 Mar 2025 09:{i % 60:02d}:00 +0000\r\n"
        f"Message-ID: <sync-{i}@remote.test>\r\n"
        f"\r\n"
        f"Message number {i}.\r\n"
        + "".join(f"line {j} of message {i}\r\n" for j in range(i % 5))
    ).encode()


def initial_flags(i: int) -> set[str]:
    flags = set()
    if i % 3 == 0:
        flags.add("\\Seen")
    if i % 7 == 0:
        flags.add("\\Flagged")
    return flags


def imap_flag_list(flags: set[str]) -> str | None:
    return "(" + " ".join(sorted(flags)) + ")" if flags else None


def parse_flags(meta: bytes) -> set[str]:
    m = re.search(rb"FLAGS \(([^)]*)\)", meta)
    assert m, f"no FLAGS in {meta!r}"
    return {f.decode() for f in m.group(1).split()} - {"\\Recent"}


def server_state(c: imaplib.IMAP4) -> dict[str, tuple[set[str], bytes]]:
    """Message-ID -> (flags, full message) of every message in the selected mailbox."""
    data = check(c.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])"), "UID FETCH 1:* (FLAGS BODY.PEEK[])")
    out = {}
    for n, item in enumerate(data):
        if not isinstance(item, tuple):
            continue
        meta, body = item
        # FLAGS may come before or after the literal: imaplib puts what follows it in the next item.
        tail = data[n + 1] if n + 1 < len(data) and isinstance(data[n + 1], bytes) else b""
        meta += tail
        m = MSGID_RE.search(body)
        assert m, f"message without Message-ID on the server: {body[:300]!r}"
        msgid = m.group(1).decode()
        assert msgid not in out, f"{msgid} is on the server twice"
        out[msgid] = (parse_flags(meta), body)
    return out


# ---------------------------------------------------------------- Maildir


def maildir_files(box: Path) -> dict[str, tuple[Path, set[str], bytes]]:
    """Message-ID -> (path, Maildir flag letters, content) for every message in cur/ and new/."""
    out = {}
    for sub in ("cur", "new"):
        d = box / sub
        if not d.is_dir():
            continue
        for p in sorted(d.iterdir()):
            data = p.read_bytes()
            m = MSGID_RE.search(data)
            assert m, f"{p}: no Message-ID: {data[:300]!r}"
            msgid = m.group(1).decode()
            assert msgid not in out, f"{msgid} is in the Maildir twice: {out[msgid][0]} and {p}"
            info = p.name.split(":2,", 1)[1] if ":2," in p.name else ""
            out[msgid] = (p, set(info), data)
    return out


def set_maildir_flags(path: Path, letters: set[str]) -> Path:
    """What a mail reader does: rename into cur/ with the new info part (letters sorted)."""
    base = path.name.split(":2,", 1)[0]
    new = path.parent.parent / "cur" / f"{base}:2,{''.join(sorted(letters))}"
    path.rename(new)
    return new


TUID_RE = re.compile(rb"^X-TUID: [^\n]*\n", re.M)


def lf(data: bytes) -> bytes:
    """A message as mbsync keeps it in a Maildir: LF line ends, and without the X-TUID header
    mbsync adds to every message it copies (to find it again after an interrupted run)."""
    return TUID_RE.sub(b"", data.replace(b"\r\n", b"\n"), count=1)


def snapshot(box: Path) -> dict[str, tuple[int, int]]:
    """File name -> (size, mtime_ns) of every file in the Maildir folder, state file included."""
    return {str(p.relative_to(box)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in box.rglob("*") if p.is_file()}


class Mbsync:
    def __init__(self, tmp: Path, server, user: str):
        self.tmp = tmp
        self.maildir = tmp / "Mail"
        self.inbox = self.maildir / "INBOX"
        self.maildir.mkdir()
        self.config = tmp / "mbsyncrc"
        host, port = server.addr("imaps")
        cert = server.data_dir / "tls" / "cert.pem"
        assert cert.is_file(), f"server certificate not at {cert}: {list((server.data_dir / 'tls').iterdir())}"
        self.config.write_text(f"""\
IMAPAccount mailroom
Host {host}
Port {port}
User {user}
Pass {PASSWORDS[user]}
SSLType IMAPS
CertificateFile {cert}
AuthMechs LOGIN
Timeout 60

IMAPStore remote
Account mailroom

MaildirStore local
Path {self.maildir}/
Inbox {self.inbox}

Channel inbox
Far :remote:
Near :local:
Patterns INBOX
Create Both
Expunge None
Remove None
Sync All
SyncState *
""")
        self.runs: list[str] = []

    def run(self, *options: str) -> str:
        """Runs mbsync (verbose, plus `options`); returns everything it printed."""
        env = dict(os.environ, HOME=str(self.tmp))
        cmd = ["mbsync", "-V", *options, "-c", str(self.config), "inbox"]
        started = time.monotonic()
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
        out = f"$ {' '.join(cmd)}   (exit {res.returncode}, {time.monotonic() - started:.1f}s)\n" \
              f"{res.stdout[-6000:]}\n{res.stderr[-6000:]}"
        self.runs.append(out)
        assert res.returncode == 0, f"mbsync failed:\n{out}"
        return res.stdout + res.stderr


@pytest.mark.slow
def test_mbsync_full_sync_both_directions(server, tmp_path):
    require_program("mbsync")
    c = server.imap(BOB)
    # imaplib sends an APPEND literal and its closing CRLF in two writes: without TCP_NODELAY, Nagle's
    # algorithm and the peer's delayed ACK make each APPEND take ~40 ms.
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for i in range(1, SYNC_COUNT + 1):
            check(c.append("INBOX", imap_flag_list(initial_flags(i)), None, sync_message(i)), f"APPEND {i}")
        typ, data = c.select("INBOX")
        assert typ == "OK" and int(data[0]) == SYNC_COUNT, (typ, data)
    finally:
        c.logout()

    # 1. Pull: every message arrives once, intact, with its flags.
    sync = Mbsync(tmp_path, server, BOB)
    sync.run()
    local = maildir_files(sync.inbox)
    assert len(local) == SYNC_COUNT, f"{len(local)} messages in the Maildir after the first sync\n{sync.runs[-1]}"
    wrong_flags, wrong_body = [], []
    for i in range(1, SYNC_COUNT + 1):
        path, letters, data = local[f"sync-{i}@remote.test"]
        want = {k for k, v in MAILDIR_FLAGS.items() if v in initial_flags(i)}
        if letters & set("DFRST") != want:
            wrong_flags.append((i, path.name, want))
        if lf(data) != lf(sync_message(i)):
            wrong_body.append((i, data[:400]))
    assert not wrong_flags, f"{len(wrong_flags)} messages with wrong Maildir flags, e.g. {wrong_flags[:5]}"
    assert not wrong_body, f"{len(wrong_body)} messages differ from what was appended, e.g. {wrong_body[:2]}"

    # 2. Changes on both sides, then sync again.
    # Local: new flags on some messages, flags removed on others, and new messages.
    changes = {1: {"S"}, 2: {"S", "F"}, 4: {"R", "S"}, 7: set(), 21: {"S"}, 300: {"F", "S"}}
    for i, letters in changes.items():
        path = local[f"sync-{i}@remote.test"][0]
        set_maildir_flags(path, letters)
    new_local = {}
    for k in range(1, 6):
        msgid = f"local-{k}@near.test"
        body = (f"From: Bob <{BOB}>\nTo: carol@example.test\nSubject: written offline {k}\n"
                f"Date: Tue, 04 Mar 2025 10:0{k}:00 +0000\nMessage-ID: <{msgid}>\n\nDraft number {k}.\n").encode()
        letters = {"S"} | ({"F"} if k % 2 else set())
        name = f"{int(time.time())}.local{k}.nearhost:2,{''.join(sorted(letters))}"
        (sync.inbox / "cur" / name).write_bytes(body)
        new_local[msgid] = (letters, body)
    # Server: a flag set and a new message, to travel the other way in the same run.
    c = server.imap(BOB)
    try:
        check(c.select("INBOX"), "SELECT INBOX")
        check(c.store("10", "+FLAGS", "(\\Flagged)"), "STORE 10 +FLAGS (\\Flagged)")
        server_new = (b"From: Sync Source <source@remote.test>\r\nTo: bob@example.test\r\nSubject: server side\r\n"
                      b"Message-ID: <server-1@remote.test>\r\n\r\nArrived on the server.\r\n")
        check(c.append("INBOX", "(\\Seen)", None, server_new), "APPEND server-1")
    finally:
        c.logout()

    sync.run()

    expected = {}
    for i in range(1, SYNC_COUNT + 1):
        flags = initial_flags(i)
        if i in changes:
            flags = {MAILDIR_FLAGS[ch] for ch in changes[i]}
        if i == 10:
            flags = flags | {"\\Flagged"}
        expected[f"sync-{i}@remote.test"] = flags
    for msgid, (letters, _) in new_local.items():
        expected[msgid] = {MAILDIR_FLAGS[ch] for ch in letters}
    expected["server-1@remote.test"] = {"\\Seen"}

    c = server.imap(BOB)
    try:
        check(c.select("INBOX", readonly=True), "EXAMINE INBOX")
        state = server_state(c)
    finally:
        c.logout()
    assert set(state) == set(expected), (
        f"server has {len(state)} messages; missing {sorted(set(expected) - set(state))[:10]}, "
        f"unexpected {sorted(set(state) - set(expected))[:10]}\n{sync.runs[-1]}")
    bad = {m: (state[m][0], want) for m, want in expected.items() if state[m][0] != want}
    assert not bad, f"{len(bad)} messages with wrong flags on the server (got, want): {dict(list(bad.items())[:10])}"
    for msgid, (_, body) in new_local.items():
        assert lf(state[msgid][1]) == body, f"{msgid} uploaded as {state[msgid][1]!r}, written as {body!r}"

    local = maildir_files(sync.inbox)
    assert set(local) == set(expected), f"Maildir after the second sync: {len(local)} messages\n{sync.runs[-1]}"
    bad = {m: (local[m][1], want) for m, want in expected.items()
           if {MAILDIR_FLAGS[ch] for ch in local[m][1] & set(MAILDIR_FLAGS)} != want}
    assert not bad, f"{len(bad)} Maildir messages with wrong flags (got, want): {dict(list(bad.items())[:10])}"
    assert lf(local["server-1@remote.test"][2]) == lf(server_new)

    # 3. Nothing changed: a third sync transfers nothing, on either side.
    c = server.imap(BOB)
    try:
        before_server = check(c.status("INBOX", "(MESSAGES UIDNEXT HIGHESTMODSEQ)"), "STATUS")
    finally:
        c.logout()
    before_local = {k: v for k, v in snapshot(sync.inbox).items() if not k.startswith(".mbsyncstate")}
    out = sync.run("-Dn")  # -Dn: print the IMAP conversation
    commands = [line[4:] for line in out.splitlines() if line.startswith(">>> ")]
    assert commands, f"no IMAP commands in mbsync -Dn output:\n{out[-3000:]}"
    transfers = [cmd for cmd in commands
                 if re.search(r"\b(APPEND|STORE|COPY|MOVE|EXPUNGE)\b|BODY(\.PEEK)?\[", cmd, re.I)]
    assert not transfers, f"the no-change sync transferred something: {transfers}"
    after_local = {k: v for k, v in snapshot(sync.inbox).items() if not k.startswith(".mbsyncstate")}
    c = server.imap(BOB)
    try:
        after_server = check(c.status("INBOX", "(MESSAGES UIDNEXT HIGHESTMODSEQ)"), "STATUS")
    finally:
        c.logout()
    assert after_local == before_local, f"the no-change sync touched the Maildir\n{out}"
    assert after_server == before_server, f"the no-change sync changed the server: {before_server} -> {after_server}"


# ---------------------------------------------------------------- curl


def _curl(url: str, user: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["curl", "-s", "-S", "--insecure", "--max-time", "30", "-u", f"{user}:{PASSWORDS[user]}", *extra, url],
        capture_output=True, timeout=60)


CURL_MESSAGE = (
    "From: Carol <carol@example.test>\r\n"
    "To: Carol <carol@example.test>\r\n"
    "Subject: curl fetch\r\n"
    "Message-ID: <curl-1@example.test>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Grüße aus dem Büro.\r\n"
    ".a line that starts with a dot\r\n"
    "\r\n"
    + "x" * 990 + "\r\n"
    "last line\r\n"
).encode()


def test_curl_fetch_and_list(server):
    require_program("curl")
    c = server.imap(CAROL)
    try:
        check(c.create("Receipts"), "CREATE Receipts")
        check(c.append("INBOX", None, None, CURL_MESSAGE), "APPEND")
        check(c.select("INBOX"), "SELECT INBOX")
        uids = check(c.uid("SEARCH", "HEADER", "Message-ID", "curl-1@example.test"), "UID SEARCH")[0].split()
        assert len(uids) == 1, uids
        uid = uids[0].decode()
        listed = check(c.list(), "LIST")
    finally:
        c.logout()
    imaplib_names = set()
    for line in listed:
        m = re.match(rb'\([^)]*\) (?:"[^"]*"|NIL) "?([^"]*)"?$', line)
        assert m, line
        imaplib_names.add(m.group(1).decode())

    host, port = server.addr("imaps")
    res = _curl(f"imaps://{host}:{port}/INBOX;UID={uid}", CAROL)
    assert res.returncode == 0, f"curl exit {res.returncode}: {res.stderr.decode(errors='replace')}"
    assert res.stdout == CURL_MESSAGE, f"curl got {res.stdout!r}"

    # The same over STARTTLS on N+143.
    host, port = server.addr("imap")
    res = _curl(f"imap://{host}:{port}/INBOX;UID={uid}", CAROL, "--ssl-reqd")
    assert res.returncode == 0, f"curl exit {res.returncode}: {res.stderr.decode(errors='replace')}"
    assert res.stdout == CURL_MESSAGE, f"curl (STARTTLS) got {res.stdout!r}"

    # LIST: curl prints the untagged LIST responses.
    host, port = server.addr("imaps")
    res = _curl(f"imaps://{host}:{port}/", CAROL)
    assert res.returncode == 0, f"curl exit {res.returncode}: {res.stderr.decode(errors='replace')}"
    lines = res.stdout.decode().splitlines()
    assert lines and all(line.startswith("* LIST (") for line in lines), res.stdout
    curl_names = set()
    for line in lines:
        m = re.match(r'\* LIST \([^)]*\) (?:"[^"]*"|NIL) "?([^"]*)"?$', line)
        assert m, line
        curl_names.add(m.group(1))
    assert {"INBOX", "Receipts"} <= curl_names, curl_names
    assert curl_names == imaplib_names, (curl_names, imaplib_names)


def test_fetchmail_downloads_over_imaps_and_marks_seen(server, tmp_path):
    """fetchmail polls the INBOX over port N+993, hands each message to an MDA
    byte for byte, and (with `keep`) leaves them on the server marked \\Seen."""
    require_program("fetchmail")
    host, port = server.addr("imaps")
    user, password = server.new_account()
    c = server.imap(user, password=password)
    bodies = [f"Subject: fetchmail {i}\r\nFrom: a@remote.test\r\n\r\nbody {i}\r\n".encode() for i in range(3)]
    for b in bodies:
        check(c.append("INBOX", None, None, b), "APPEND")
    out = tmp_path / "delivered"
    out.mkdir()
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f'set no syslog\n'
        f'poll {host} service {port} protocol IMAP\n'
        f'  user "{user}" password "{password}" is "{user}" here\n'
        f'  ssl no sslcertck keep fetchall\n'
        f'  mda "/bin/sh -c \'cat > {out}/msg.$$\'"\n'
    )
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    res = subprocess.run(["fetchmail", "--nodetach", "-f", str(rc), "-v"], capture_output=True, text=True,
                         timeout=60, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    got = sorted(p.read_bytes() for p in out.iterdir())
    assert len(got) == 3, res.stdout + res.stderr
    # fetchmail adds its own Received: line on top; the original follows intact.
    for b in bodies:
        assert any(g.endswith(b.replace(b"\r\n", b"\n")) or g.endswith(b) for g in got), (b, got)
    c.select("INBOX")
    typ, data = c.search(None, "UNSEEN")
    assert typ == "OK" and data == [b""], data
    typ, data = c.search(None, "SEEN")
    assert len(data[0].split()) == 3
    c.logout()
