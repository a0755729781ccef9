"""Large messages received over SMTP are spooled to disk, not held in memory.

Forty clients on the MX port each send a 20 MB message to postmaster and hold
before the final dot: the server's peak memory must stay small (it used to
hold every body whole, 800 MB here). Then every client sends the dot, every
message is acknowledged with 250 and reads back byte-exact over IMAP. A
client that disconnects in the middle of DATA leaves no file behind in
`messages/tmp/`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import threading
import time

import pytest

from mailroom import QUEUED_RE, RawSMTP, split_trace, wait_for

POSTMASTER = "postmaster@example.test"
POSTMASTER_PW = "postmaster-pw-9"
SENDER = "sender@remote.test"
CLIENTS = 40
SIZE = 20 * 1024 * 1024
BOUND = 100 * 1024 * 1024

pytestmark = pytest.mark.slow


@pytest.fixture
def big_server(server_factory):
    """A server of its own per test, so one test's peak memory is not the next one's baseline."""
    srv = server_factory(settings={"command_timeout_secs": 600, "data_timeout_secs": 600})
    srv.cli("account", "passwd", POSTMASTER, "--password", POSTMASTER_PW)
    return srv


def big_message(n: int) -> bytes:
    """About SIZE octets, unique per client, with lines that need dot-stuffing."""
    head = (f"From: <{SENDER}>\r\nTo: <{POSTMASTER}>\r\nSubject: {subject(n)}\r\n"
            f"Message-ID: <big-{n}-{time.time_ns()}@client.test>\r\n\r\n").encode()
    line = (f".client {n} " + "x" * 60 + "\r\n").encode()
    body = line * (SIZE // len(line))
    return head + body


def stuffed(message: bytes) -> bytes:
    return re.sub(rb"(^|\r\n)\.", rb"\1..", message)


def socket_queues_empty(port: int) -> bool:
    """Whether every TCP connection to `port` has no byte left unsent by the
    client or unread by the server (columns tx_queue:rx_queue of /proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            local_port = int(cols[1].rsplit(":", 1)[1], 16)
            remote_port = int(cols[2].rsplit(":", 1)[1], 16)
            if port not in (local_port, remote_port) or cols[3] != "01":  # 01: ESTABLISHED
                continue
            tx, rx = (int(x, 16) for x in cols[4].split(":"))
            if tx or rx:
                return False
    return True


def spool_files_open(srv) -> int:
    """How many files under messages/tmp/ the server holds open (spooled
    bodies have no name there: they show as `#inode (deleted)`)."""
    tmp = os.path.realpath(srv.data_dir / "messages" / "tmp") + "/"
    n = 0
    for fd in os.listdir(f"/proc/{srv.pid}/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{srv.pid}/fd/{fd}").startswith(tmp):
                n += 1
    return n


def tmp_files(srv) -> list[str]:
    return sorted(p.name for p in (srv.data_dir / "messages" / "tmp").iterdir())


def subject(n: int) -> str:
    return f"big [{n}]"


def imap_messages(srv, numbers) -> dict[int, bytes]:
    """The messages of postmaster's INBOX with these numbers (see `subject`), as exact bytes."""
    c = srv.imap(POSTMASTER, password=POSTMASTER_PW)
    try:
        typ, _ = c.select("INBOX", readonly=True)
        assert typ == "OK"
        out = {}
        for n in numbers:
            typ, data = c.uid("SEARCH", None, "HEADER", "Subject", f'"{subject(n)}"')
            assert typ == "OK", data
            for uid in data[0].split():
                typ, resp = c.uid("FETCH", uid, "(BODY.PEEK[])")
                assert typ == "OK", resp
                assert n not in out, f"message {n} stored twice"
                out[n] = resp[0][1]
        return out
    finally:
        c.logout()


def test_forty_large_messages_held_before_the_dot_stay_on_disk(big_server):
    srv = big_server
    messages = [big_message(n) for n in range(CLIENTS)]
    total = sum(len(stuffed(m)) for m in messages)
    baseline = srv.status_field("VmRSS")

    clients: list[RawSMTP] = []
    try:
        for _ in range(CLIENTS):
            c = RawSMTP(*srv.addr("smtp"), timeout=600)
            c.ehlo()
            assert c.cmd(f"MAIL FROM:<{SENDER}> SIZE={SIZE + 4096}").code == 250
            assert c.cmd(f"RCPT TO:<{POSTMASTER}>").code == 250
            assert c.cmd("DATA").code == 354
            clients.append(c)

        errors: list[BaseException] = []

        def send_body(c: RawSMTP, msg: bytes) -> None:
            try:
                c.sock.sendall(stuffed(msg))
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=send_body, args=(c, m)) for c, m in zip(clients, messages)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        assert not errors, errors
        # Everything sent has been read by the server; all forty sit before the dot.
        port = srv.port("smtp")
        wait_for(lambda: socket_queues_empty(port), timeout=600, interval=0.5, what="server read every body")
        time.sleep(1)
        held = srv.status_field("VmHWM") - baseline
        print(f"\n{CLIENTS} x {SIZE / 2**20:.0f} MiB held before the dot: VmRSS {baseline / 2**20:.1f} MiB "
              f"at the start, peak {held / 2**20:.1f} MiB above it")
        assert held < BOUND, (f"peak RSS grew by {held / 2**20:.1f} MiB while {CLIENTS} clients held "
                              f"{total / 2**20:.0f} MiB of message bodies")
        assert spool_files_open(srv) == CLIENTS, "each body held waits in its own spool file"

        queued: dict[int, str] = {}
        for n, c in enumerate(clients):
            c.send(b".\r\n")
        for n, c in enumerate(clients):
            r = c.reply()
            m = QUEUED_RE.match(r.lines[0])
            assert m, f"client {n}: {r}"
            queued[n] = m.group(1)
            c.quit()
        peak = srv.status_field("VmHWM") - baseline
        print(f"after all {CLIENTS} were stored: peak {peak / 2**20:.1f} MiB above the start")
        assert peak < BOUND, f"peak RSS grew by {peak / 2**20:.1f} MiB storing {CLIENTS} large messages"

        stored = imap_messages(srv, range(CLIENTS))
        for n, msg in enumerate(messages):
            assert n in stored, f"message {n} (queued as {queued[n]}) is missing; have {sorted(stored)}"
            _, _, rest = split_trace(stored[n])
            assert len(rest) == len(msg), (n, len(rest), len(msg))
            assert hashlib.sha256(rest).digest() == hashlib.sha256(msg).digest(), f"message {n} differs"
        assert tmp_files(srv) == []
        assert spool_files_open(srv) == 0
    finally:
        for c in clients:
            c.close()


def test_large_bdat_messages_held_before_last_stay_on_disk(big_server):
    """CHUNKING: ten clients send 20 MB each in 1 MB BDAT chunks and hold
    before BDAT 0 LAST; memory stays small and every message is stored."""
    srv = big_server
    n_clients, chunk = 10, 1024 * 1024
    messages = [big_message(100 + n) for n in range(n_clients)]
    baseline = srv.status_field("VmRSS")
    clients: list[RawSMTP] = []
    try:
        for msg in messages:
            c = RawSMTP(*srv.addr("smtp"), timeout=600)
            c.ehlo()
            assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
            assert c.cmd(f"RCPT TO:<{POSTMASTER}>").code == 250
            clients.append(c)
        for c, msg in zip(clients, messages):
            for at in range(0, len(msg), chunk):
                part = msg[at:at + chunk]
                c.send(f"BDAT {len(part)}\r\n".encode() + part)
                r = c.reply()
                assert r.code == 250, r
        grew = srv.status_field("VmHWM") - baseline
        print(f"\n{n_clients} x {SIZE / 2**20:.0f} MiB in BDAT chunks held before LAST: "
              f"peak grew {grew / 2**20:.1f} MiB")
        assert grew < BOUND, f"peak RSS grew by {grew / 2**20:.1f} MiB while {n_clients} BDAT messages were held"
        for n, c in enumerate(clients):
            r = c.cmd("BDAT 0 LAST")
            assert QUEUED_RE.match(r.lines[0]), f"client {n}: {r}"
            c.quit()
    finally:
        for c in clients:
            c.close()
    stored = imap_messages(srv, range(100, 100 + n_clients))
    for n, msg in enumerate(messages):
        _, _, rest = split_trace(stored[100 + n])
        assert hashlib.sha256(rest).digest() == hashlib.sha256(msg).digest(), f"BDAT message {n} differs"


def test_disconnect_in_the_middle_of_data_leaves_no_file(big_server):
    srv = big_server
    c = RawSMTP(*srv.addr("smtp"), timeout=60)
    c.ehlo()
    assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
    assert c.cmd(f"RCPT TO:<{POSTMASTER}>").code == 250
    assert c.cmd("DATA").code == 354
    part = stuffed(big_message(99))[: 5 * 1024 * 1024]
    c.sock.sendall(part)
    wait_for(lambda: socket_queues_empty(srv.port("smtp")), timeout=120, interval=0.5, what="server read the part")
    assert spool_files_open(srv) == 1, "the part received waits in a spool file"
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    wait_for(lambda: spool_files_open(srv) == 0, timeout=10, what="the spool file closed after the disconnect")
    assert tmp_files(srv) == [], "nothing left in messages/tmp"
    # Nothing half-received was delivered either.
    assert imap_messages(srv, [99]) == {}
