"""Connection slots and the login throttle under hostile clients.

* Idle TLS handshakes are cut off after `tls_handshake_timeout`, and a flood
  of them on the IMAPS port holds at most that protocol's share of the
  connection pool: ports 25 and 587 keep answering meanwhile.
* IMAP and POP3 sessions that do not log in are closed after
  `prelogin_timeout` (BYE / -ERR), however chatty they are.
* IPv6 clients are counted per /64 (`ipv6_client_prefix`): many addresses of
  one network share one per-client connection limit. Seen from a network
  namespace joined to the host by a veth pair with two IPv6 /64s on the
  host side (names include the pid, so parallel runs do not collide).
* 50 wrong-password logins sent at once are not all checked: at most
  `auth_fail_block_after` get an answer from the password check, the rest
  are refused at once as throttled.
* During a flood of bad logins, a real user logs in within seconds.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from mailroom import PASSWORDS, RawSMTP, client_tls_context

ALICE = "alice@example.test"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def idle_connections(server, name: str, n: int) -> list[socket.socket]:
    """`n` TCP connections to a listener that never send a byte."""
    host, port = server.addr(name)
    return [socket.create_connection((host, port), timeout=10) for _ in range(n)]


def closed_by_server(sock: socket.socket, wait: float) -> bool:
    """True if the server closed `sock` (EOF or reset) within `wait` seconds."""
    sock.settimeout(wait)
    try:
        while True:
            if not sock.recv(4096):
                return True
    except (socket.timeout, TimeoutError):
        return False
    except OSError:
        return True


def read_line(sock: socket.socket, buf: bytearray) -> bytes:
    while b"\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed by the server (pending {bytes(buf)!r})")
        buf += chunk
    line, _, rest = bytes(buf).partition(b"\r\n")
    buf[:] = rest
    return line


def smtp_answers(server, name: str) -> int:
    """The EHLO reply code of a new SMTP session on listener `name`."""
    host, port = server.addr(name)
    with RawSMTP(host, port, timeout=10) as c:
        if c.greeting.code != 220:
            return c.greeting.code
        return c.cmd("EHLO client.test").code


def imap_login(host: str, port: int, user: str, password: str, source: str | None = None,
               start: threading.Event | None = None, timeout: float = 60) -> str:
    """One plaintext IMAP LOGIN; returns the tagged reply line."""
    sock = socket.create_connection((host, port), timeout=timeout,
                                    source_address=(source, 0) if source else None)
    try:
        buf = bytearray()
        read_line(sock, buf)  # greeting
        if start is not None:
            start.wait(timeout)
        sock.sendall(f'a1 LOGIN "{user}" "{password}"\r\n'.encode())
        while True:
            line = read_line(sock, buf).decode("utf-8", "replace")
            if line.startswith("a1 "):
                return line[3:]
    except (ConnectionError, OSError) as e:
        return f"closed: {e}"
    finally:
        sock.close()


# --------------------------------------------------------------------------
# slots and deadlines
# --------------------------------------------------------------------------


def test_idle_tls_handshakes_are_cut_off_and_other_ports_keep_answering(server_factory):
    # Small limits, so the flood is quick: 40 slots, at most 10 per protocol.
    server = server_factory(settings={
        "max_connections": 40,
        "max_connections_per_protocol": 10,
        "max_connections_per_ip": 200,
        "tls_handshake_timeout": "3s",
    })
    flood = idle_connections(server, "imaps", 40)
    try:
        time.sleep(0.5)
        # The flood holds the IMAP share, not the whole pool: both SMTP ports answer.
        assert smtp_answers(server, "smtp") == 250
        assert smtp_answers(server, "submission") == 250
        held = [s for s in flood if not closed_by_server(s, 0.05)]
        assert len(held) <= 10, f"{len(held)} idle handshakes hold slots; the IMAP share is 10"
        # Those that got a slot lose it once the handshake deadline passes.
        started = time.monotonic()
        still_open = [s for s in held if not closed_by_server(s, max(0.1, 6 - (time.monotonic() - started)))]
        assert not still_open, f"{len(still_open)} idle TLS connections still open 6 s after a 3 s deadline"
    finally:
        for s in flood:
            s.close()
    # IMAPS serves real clients again.
    host, port = server.addr("imaps")
    with client_tls_context().wrap_socket(socket.create_connection((host, port), timeout=10)) as tls:
        buf = bytearray()
        assert read_line(tls, buf).startswith(b"* OK")


def test_default_handshake_deadline_is_seconds_not_the_idle_timeout(server_factory):
    # No settings: the default deadline (10 s) applies to implicit TLS
    # (before it, the 30-minute IMAP idle timeout did).
    server = server_factory()
    [idle] = idle_connections(server, "imaps", 1)
    with idle:
        assert closed_by_server(idle, 15), "an idle TLS handshake was still open after 15 s"


def test_starttls_handshake_has_the_same_deadline(server_factory):
    server = server_factory(settings={"tls_handshake_timeout": "2s"})
    host, port = server.addr("submission")
    with RawSMTP(host, port, timeout=10) as c:
        c.ehlo()
        assert c.cmd("STARTTLS").code == 220
        # Never start the handshake.
        assert c.is_closed(wait=6), "a STARTTLS handshake that never started kept the connection for 6 s"


def test_imap_session_without_login_is_logged_out(server_factory):
    server = server_factory(settings={"prelogin_timeout": "3s"})
    host, port = server.addr("imap")
    sock = socket.create_connection((host, port), timeout=10)
    buf = bytearray()
    lines = []
    started = time.monotonic()
    try:
        assert read_line(sock, buf).startswith(b"* OK")
        # A chatty client that never logs in: NOOP every half second.
        n = 0
        while time.monotonic() - started < 10:
            n += 1
            try:
                sock.sendall(f"n{n} NOOP\r\n".encode())
                while True:
                    line = read_line(sock, buf).decode()
                    lines.append(line)
                    if line.startswith(f"n{n} ") or line.startswith("* BYE"):
                        break
            except (ConnectionError, OSError):
                break
            if lines[-1].startswith("* BYE"):
                break
            time.sleep(0.5)
    finally:
        sock.close()
    elapsed = time.monotonic() - started
    assert any(line.startswith("* BYE") for line in lines), lines
    assert elapsed < 8, f"closed only after {elapsed:.1f} s (deadline 3 s)"
    # A client that logs in is not affected by the deadline.
    with server.raw_imap(ALICE) as c:
        time.sleep(4)
        assert c.cmd("NOOP").tagged.startswith("OK")


def test_pop3_session_without_login_is_closed(server_factory):
    server = server_factory(settings={"prelogin_timeout": "3s"})
    host, port = server.addr("pop3")
    sock = socket.create_connection((host, port), timeout=10)
    buf = bytearray()
    lines = []
    started = time.monotonic()
    try:
        assert read_line(sock, buf).startswith(b"+OK")
        while time.monotonic() - started < 10:
            try:
                sock.sendall(b"NOOP\r\n")
                line = read_line(sock, buf).decode()
            except (ConnectionError, OSError):
                break
            lines.append(line)
            if "in time" in line:
                break
            time.sleep(0.5)
        closed = closed_by_server(sock, 2)
    finally:
        sock.close()
    elapsed = time.monotonic() - started
    assert lines and lines[-1].startswith("-ERR") and "in time" in lines[-1], lines
    assert closed
    assert elapsed < 8, f"closed only after {elapsed:.1f} s (deadline 3 s)"
    # A logged-in session outlives the deadline.
    p = server.pop3(ALICE, implicit=True)
    try:
        time.sleep(4)
        p.noop()
    finally:
        p.quit()


# --------------------------------------------------------------------------
# IPv6 clients per /64
# --------------------------------------------------------------------------


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True)


@pytest.fixture
def ipv6_netns():
    """A namespace at fd6c:<pid>:1::1/64 (where the server listens), joined by
    a veth pair to the host, which has six addresses of that /64 and one of
    fd6c:<pid>:2::/64."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.fail("the IPv6 tests build network namespaces: they need root and iproute2", pytrace=False)
    pid = os.getpid()
    tag = f"{pid:x}"[-6:]
    ns, host_if, ns_if = f"mr6ns{pid}", f"m6h{tag}", f"m6n{tag}"
    net = f"fd6c:{pid & 0xffff:x}"
    same = [f"{net}:1::{n:x}" for n in range(0x10, 0x16)]
    other = f"{net}:2::10"
    server_ip = f"{net}:1::1"
    etc = Path(f"/etc/netns/{ns}")
    try:
        try:
            run("ip", "netns", "add", ns)
        except subprocess.CalledProcessError as e:
            pytest.fail(f"cannot create a network namespace here: {e.stderr.strip()}", pytrace=False)
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
        run("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        run("ip", "link", "set", ns_if, "netns", ns)
        run("ip", "link", "set", host_if, "up")
        for a in same:
            run("ip", "-6", "addr", "add", f"{a}/64", "dev", host_if, "nodad")
        run("ip", "-6", "addr", "add", f"{other}/64", "dev", host_if, "nodad")
        inside = ["ip", "netns", "exec", ns]
        run(*inside, "ip", "link", "set", "lo", "up")
        run(*inside, "ip", "link", "set", ns_if, "up")
        run(*inside, "ip", "-6", "addr", "add", f"{server_ip}/64", "dev", ns_if, "nodad")
        run(*inside, "ip", "-6", "route", "add", f"{net}:2::/64", "dev", ns_if)
        yield {"ns": ns, "server_ip": server_ip, "same": same, "other": other}
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(etc, ignore_errors=True)


def test_ipv6_addresses_of_one_64_share_the_per_client_limit(ipv6_netns, server_factory):
    server = server_factory(bind=ipv6_netns["server_ip"], netns=ipv6_netns["ns"],
                            settings={"max_connections_per_ip": 3})
    host, port = server.addr("smtp")
    open_ = []
    try:
        greetings = []
        for source in ipv6_netns["same"]:
            c = RawSMTP(host, port, timeout=10, source=source)
            open_.append(c)
            greetings.append(c.greeting.code)
        # Six addresses of one /64 are one client: three get in, three are told to wait.
        assert greetings == [220, 220, 220, 421, 421, 421], greetings
        # Another /64 is another client.
        with RawSMTP(host, port, timeout=10, source=ipv6_netns["other"]) as c:
            assert c.greeting.code == 220
    finally:
        for c in open_:
            c.close()


# --------------------------------------------------------------------------
# login throttle
# --------------------------------------------------------------------------


def test_parallel_wrong_logins_are_not_all_checked(server_factory):
    server = server_factory(settings={
        "auth_fail_block_after": 5,
        "max_connections_per_ip": 200,
        "plaintext_auth_on_trusted": "true",
    })
    host, port = server.addr("imap")
    start = threading.Event()
    results: list[str] = []
    lock = threading.Lock()

    def guess(i: int) -> None:
        r = imap_login(host, port, ALICE, f"wrong-{i}", start=start)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # every connection greeted and waiting
    start.set()
    for t in threads:
        t.join(120)
    assert len(results) == 50
    checked = [r for r in results if "[AUTHENTICATIONFAILED]" in r]
    throttled = [r for r in results if r.startswith("NO [UNAVAILABLE]")]
    assert len(checked) <= 5, f"{len(checked)} of 50 parallel guesses were checked; the limit is 5"
    assert len(throttled) + len(checked) == 50, results
    # The real password is refused too now: the address is blocked.
    assert imap_login(host, port, ALICE, PASSWORDS[ALICE]).startswith("NO [UNAVAILABLE]")


@pytest.mark.slow
def test_real_user_logs_in_during_a_login_flood(server_factory):
    server = server_factory(settings={
        "max_connections_per_ip": 400,
        "plaintext_auth_on_trusted": "true",
    })
    host, port = server.addr("imap")
    start = threading.Event()
    done = threading.Event()

    def flood(i: int) -> None:
        # Each flooder keeps guessing until the test is over.
        while not done.is_set():
            imap_login(host, port, ALICE, f"wrong-{i}", source="127.0.0.1", start=start)

    threads = [threading.Thread(target=flood, args=(i,), daemon=True) for i in range(200)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        start.set()
        time.sleep(1.0)  # the flood is under way
        began = time.monotonic()
        reply = imap_login(host, port, ALICE, PASSWORDS[ALICE], source="127.0.0.2", timeout=60)
        took = time.monotonic() - began
    finally:
        done.set()
        for t in threads:
            t.join(60)
    assert reply.startswith("OK"), reply
    assert took < 5, f"a real login took {took:.1f} s during the flood"


@pytest.mark.slow
def test_real_user_logs_in_while_many_addresses_with_failures_keep_guessing(server_factory):
    # 40 guessing addresses that have each failed once already: their further
    # guesses wait in the small lane for addresses with recent failures, or
    # are told to try later, instead of queueing ahead of everybody else.
    server = server_factory(settings={
        "max_connections_per_ip": 400,
        "plaintext_auth_on_trusted": "true",
    })
    host, port = server.addr("imap")
    sources = [f"127.0.1.{n}" for n in range(10, 50)]
    for source in sources:
        assert "[AUTHENTICATIONFAILED]" in imap_login(host, port, ALICE, "wrong", source=source)
    start = threading.Event()
    done = threading.Event()

    def flood(i: int) -> None:
        while not done.is_set():
            imap_login(host, port, ALICE, f"wrong-{i}", source=sources[i % len(sources)], start=start)

    threads = [threading.Thread(target=flood, args=(i,), daemon=True) for i in range(200)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        start.set()
        time.sleep(0.5)  # the flood is under way
        began = time.monotonic()
        reply = imap_login(host, port, ALICE, PASSWORDS[ALICE], source="127.0.0.2", timeout=60)
        took = time.monotonic() - began
    finally:
        done.set()
        for t in threads:
            t.join(60)
    assert reply.startswith("OK"), reply
    assert took < 5, f"a real login took {took:.1f} s during the flood"


def test_parallel_wrong_admin_passwords_are_not_all_checked(server_factory):
    import json
    import urllib.error
    import urllib.request

    server = server_factory(settings={"auth_fail_block_after": 5})
    server.cli("admin-password", "--password", "admin-pw-ok")
    host, port = server.addr("admin")
    start = threading.Event()
    codes: list[int] = []
    lock = threading.Lock()

    def guess(i: int) -> None:
        req = urllib.request.Request(f"http://{host}:{port}/api/v1/login",
                                     data=json.dumps({"password": f"wrong-{i}"}).encode(), method="POST")
        req.add_header("Content-Type", "application/json")
        start.wait(30)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                code = r.status
        except urllib.error.HTTPError as e:
            code = e.code
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    start.set()
    for t in threads:
        t.join(120)
    assert sorted(set(codes)) <= [401, 429], codes
    assert codes.count(401) <= 5, f"{codes.count(401)} of 30 parallel admin guesses were checked; the limit is 5"
