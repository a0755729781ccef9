"""Crash safety: a 250 reply to DATA means the message survives kill -9.

Several clients send continuously over port N+25, each message carrying a
unique token and a fixed-length body that ends with a marker line. The
server is killed mid-load, restarted on the same data directory, and every
maildrop is read back over POP3:

* every message that got `250 2.0.0 Ok: queued as` is there, exactly once;
* every message that is there is complete (byte-identical to what was sent),
  whether or not its 250 reached the client.
"""

from __future__ import annotations

import re
import signal
import threading
import time

import pytest

from mailroom import ConnectionClosed, QUEUED_RE, RawSMTP, retr_all, split_trace

USERS = ["alice@example.test", "bob@example.test", "carol@example.test"]
SENDER = "loadgen@remote.test"
CLIENTS = 6
BODY_LINES = 60  # x 78 octets + marker: about 5 kB per message

TOKEN_RE = re.compile(rb"X-Durability-Token: (D-\d+-\d+)\r\n")


def build_message(token: str, rcpt: str) -> bytes:
    headers = (
        f"From: <{SENDER}>\r\nTo: <{rcpt}>\r\nSubject: durability {token}\r\n"
        f"X-Durability-Token: {token}\r\n\r\n"
    ).encode()
    line = (token.encode() + b" " + b"abcdefghijklmnopqrstuvwxyz" * 3)[:76] + b"\r\n"
    return headers + line * BODY_LINES + f"END-OF-MESSAGE {token}\r\n".encode()


class Client(threading.Thread):
    def __init__(self, server, idx: int, round_no: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.server, self.idx, self.stop = server, idx, stop
        self.prefix = f"D-{round_no * 100 + idx}"
        self.rcpt = USERS[idx % len(USERS)]
        self.accepted: set[str] = set()
        self.attempted: set[str] = set()
        self.error: BaseException | None = None

    def run(self):
        seq = 0
        c = None
        try:
            c = RawSMTP(*self.server.addr("smtp"), timeout=10)
            c.ehlo()
            while not self.stop.is_set():
                token = f"{self.prefix}-{seq}"
                seq += 1
                msg = build_message(token, self.rcpt)
                self.attempted.add(token)
                c.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{self.rcpt}>\r\nDATA\r\n".encode())
                replies = [c.reply() for _ in range(3)]
                if any(r.code == 421 for r in replies):
                    return  # shutting down
                assert [r.code for r in replies] == [250, 250, 354], [str(r) for r in replies]
                c.send(msg + b".\r\n")
                r = c.reply()
                if r.code == 421:
                    return
                assert QUEUED_RE.match(r.lines[0]), r
                self.accepted.add(token)
        except (ConnectionClosed, OSError):
            pass  # the server went away: expected
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            if c is not None:
                c.close()


def run_load_and_stop(server, how: str, round_no: int, duration: float = 1.5) -> tuple[set[str], set[str]]:
    stop = threading.Event()
    clients = [Client(server, i, round_no, stop) for i in range(CLIENTS)]
    for c in clients:
        c.start()
    time.sleep(duration)
    if how == "kill":
        server.kill9()
        stop.set()
    else:
        # Clean stop under load: clients keep going for a moment, then hang up.
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        stop.set()
    for c in clients:
        c.join(30)
        assert not c.is_alive()
    if how == "term":
        try:
            rc = server.proc.wait(30)
        except Exception:
            server.proc.kill()
            raise AssertionError("mailroomd did not exit within 30 s of SIGTERM")
        assert rc == 0, f"mailroomd exited with {rc} on SIGTERM"
    errors = [c.error for c in clients if c.error]
    assert not errors, errors
    accepted = set().union(*(c.accepted for c in clients))
    attempted = set().union(*(c.attempted for c in clients))
    return accepted, attempted


def check_maildrops(server, accepted: set[str], attempted: set[str]) -> int:
    found: dict[str, int] = {}
    for user in USERS:
        p = server.pop3(user)
        try:
            messages = retr_all(p)
        finally:
            p.quit()
        for stored in messages:
            m = TOKEN_RE.search(stored)
            assert m, f"message without a token in {user}'s maildrop: {stored[:300]!r}"
            token = m.group(1).decode()
            assert token in attempted, f"unknown token {token}"
            sender, _, rest = split_trace(stored)
            assert sender == SENDER.encode()
            assert rest == build_message(token, user), f"{token} stored incomplete or altered ({len(rest)} octets)"
            found[token] = found.get(token, 0) + 1
    dupes = {t: n for t, n in found.items() if n > 1}
    assert not dupes, f"delivered more than once: {dupes}"
    lost = accepted - set(found)
    assert not lost, f"{len(lost)} message(s) got 250 but are gone after restart: {sorted(lost)[:20]}"
    return len(found)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill", "term"])
def test_accepted_mail_survives_stop(fresh_server, how):
    accepted, attempted = run_load_and_stop(fresh_server, how, 1)
    assert len(accepted) >= 20, f"only {len(accepted)} messages accepted before the stop: load too slow to test"
    fresh_server.start()
    found = check_maildrops(fresh_server, accepted, attempted)
    assert found >= len(accepted)
    if how == "term":
        # A clean stop lets every transaction in flight finish and answers
        # idle clients with 421: nothing is stored without its 250 reaching
        # the client (which would otherwise retry and duplicate it).
        assert found == len(accepted), f"{found - len(accepted)} message(s) stored without the client being told"
    print(f"\n{how}: {len(accepted)} accepted, {len(attempted)} attempted, {found} stored")

    # A second round on the recovered data directory.
    accepted2, attempted2 = run_load_and_stop(fresh_server, how, 2, duration=1.0)
    fresh_server.start()
    check_maildrops(fresh_server, accepted | accepted2, attempted | attempted2)
    # The server is fully usable after recovery.
    with RawSMTP(*fresh_server.addr("smtp")) as c:
        c.ehlo()
        assert c.sendmail(SENDER, [USERS[0]], build_message("D-99-0", USERS[0])).startswith("250 2.0.0")
