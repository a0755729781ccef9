#!/usr/bin/env python3
"""SMTP delivery (outbound queue) benchmark for mailroomd, side by side with Postfix.

Both servers deliver the same number of messages for x@sink.test to
Postfix's `smtp-sink` on 127.0.0.2, which accepts everything and stores
nothing. Only the draining of a full queue is timed:

* mailroomd: the queue is paused, N messages are injected over SMTP on the
  loopback-trusted port offset+25, then `queue resume`; timed from the
  resume until `queue list` is empty. mailroomd finds the sink through a
  test DNS server (MX sink.test -> 127.0.0.2) and `remote_smtp_port`.
* Postfix: a private instance with `defer_transports = smtp` takes the same
  N messages from `smtp-source`; then defer_transports is cleared, the
  configuration reloaded and `postqueue -f` run; timed from there until its
  queue directories are empty. It routes sink.test to [127.0.0.2]:PORT with
  a transport map (no DNS).

    python3 bench/smtp_deliver.py                  # 10,000 messages
    python3 bench/smtp_deliver.py -n 2000 --per-domain 8
    python3 bench/smtp_deliver.py --no-postfix

By default mailroomd signs every message (the From: domain is local, so it
adds an RSA-2048 and an Ed25519 DKIM signature); Postfix signs nothing.
`--unsigned` uses a From: address of another domain so that neither signs.

Needs root for the private Postfix and smtp-sink (apt-get install postfix),
and dnslib (scripts/install-test-deps). Traffic stays on 127.0.0.0/8.
The binary is taken from $MAILROOMD, else $CARGO_TARGET_DIR/release/mailroomd,
else <repo>/target/release/mailroomd.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))

from mailroom import BinaryMissing, MailServer, RawSMTP, pick_offset, require_binary  # noqa: E402
from peers import PrivatePostfix, TestDNS, postfix_available, tcp_port_free  # noqa: E402

SINK_IP = "127.0.0.2"
POSTFIX_IP = "127.0.0.3"
RCPT = "x@sink.test"
SENDER = "alice@example.test"
POLL = 1  # mailroomd queue_poll_secs


# --------------------------------------------------------------------------
# smtp-sink
# --------------------------------------------------------------------------


class Sink:
    """`smtp-sink -c IP:PORT 1000`: counts what it accepts, keeps nothing."""

    def __init__(self, ip: str, port: int, workdir: Path):
        self.ip, self.port = ip, port
        self.out = workdir / f"smtp-sink-{time.monotonic_ns()}.out"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Sink":
        tool = shutil.which("smtp-sink")
        if not tool:
            raise SystemExit("smtp-sink is not installed (apt-get install postfix)")
        cmd = [tool]
        if os.geteuid() == 0:
            cmd += ["-u", "postfix"]  # smtp-sink refuses to run as root
        cmd += ["-c", f"{self.ip}:{self.port}", "1000"]
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"smtp-sink exited: {self.out.read_text(errors='replace')}")
            if not tcp_port_free(self.ip, self.port):
                return self
            time.sleep(0.05)
        raise SystemExit("smtp-sink did not start listening")

    def stop(self) -> int:
        """Stops the sink; returns how many messages it accepted."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        counts = re.findall(rb"mesg=(\d+)", self.out.read_bytes())
        return int(counts[-1]) if counts else 0


# --------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------


def build_message(worker: int, seq: int, size: int, from_addr: str) -> bytes:
    head = (
        f"From: <{from_addr}>\r\nTo: <{RCPT}>\r\nSubject: deliver bench {worker}-{seq}\r\n"
        f"Message-ID: <deliver-{worker}-{seq}@example.test>\r\n\r\n"
    ).encode()
    line = b"The quick brown fox jumps over the lazy dog. 0123456789 abcdefghij\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


def inject_mailroom(host: str, port: int, messages: int, connections: int, size: int,
                    from_addr: str) -> list[str]:
    """N messages over `connections` pipelined sessions; returns errors."""
    errors: list[str] = []
    share = [messages // connections + (1 if i < messages % connections else 0) for i in range(connections)]

    def worker(w: int) -> None:
        try:
            c = RawSMTP(host, port, timeout=120)
            c.ehlo("bench.test")
            envelope = f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RCPT}>\r\nDATA\r\n".encode()
            for seq in range(share[w]):
                c.send(envelope)
                codes = [c.reply().code for _ in range(3)]
                if codes != [250, 250, 354]:
                    errors.append(f"worker {w}: envelope replies {codes}")
                    return
                c.send(build_message(w, seq, size, from_addr) + b".\r\n")
                r = c.reply()
                if r.code != 250:
                    errors.append(f"worker {w}: DATA reply {r}")
                    return
            c.quit()
        except Exception as e:  # noqa: BLE001 - reported
            errors.append(f"worker {w}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


# --------------------------------------------------------------------------
# mailroomd
# --------------------------------------------------------------------------


def queue_len(srv: MailServer) -> int:
    return len(json.loads(srv.cli("queue", "list", "--json", timeout=300).stdout))


def run_mailroom(args, workdir: Path, port: int, dns: TestDNS) -> dict:
    binary = require_binary()
    data = workdir / "mailroom-data"
    data.mkdir()
    srv = MailServer(data_dir=data, log_path=workdir / "mailroomd.log", binary=binary)
    srv.cli("domain", "add", "example.test")
    srv.cli("account", "add", SENDER, "--password", "bench-pw")
    settings = {
        "hostname": "bench-mailroom.test",
        "dns_servers": dns.address,
        "remote_smtp_port": str(port),
        "queue_poll_secs": str(POLL),
        "outbound_tls": "opportunistic",
    }
    if args.per_domain:
        settings["max_connections_per_domain"] = str(args.per_domain)
        settings["max_outbound_connections"] = str(max(args.per_domain, 20))
    for k, v in settings.items():
        srv.cli("settings", "set", k, v)
    per_domain = srv.cli("settings", "get", "max_connections_per_domain").stdout.strip()
    dkim_keys = len(json.loads(srv.cli("dkim", "show", "example.test", "--json").stdout or "[]"))

    sink = Sink(SINK_IP, port, workdir).start()
    srv.start()
    try:
        srv.cli("queue", "pause")
        time.sleep(POLL + 1)  # the running server notices within queue_poll_secs
        from_addr = "bench@remote.test" if args.unsigned else SENDER
        t_inject = time.perf_counter()
        errors = inject_mailroom(*srv.addr("smtp"), args.messages, args.connections, args.size, from_addr)
        inject_s = time.perf_counter() - t_inject
        queued = queue_len(srv)
        if queued != args.messages:
            errors.append(f"{queued} messages queued after injecting {args.messages}")
        t0 = time.perf_counter()
        srv.cli("queue", "resume")
        deadline = time.monotonic() + args.timeout
        left, polls, poll_s = queued, 0, 0.0
        while left and time.monotonic() < deadline:
            time.sleep(0.5)
            p0 = time.perf_counter()
            left = queue_len(srv)
            poll_s += time.perf_counter() - p0
            polls += 1
        elapsed = time.perf_counter() - t0
        if left:
            errors.append(f"{left} messages still queued after {args.timeout} s")
    finally:
        srv.stop(timeout=60)
        received = sink.stop()
    return {
        "name": _mailroomd_version(binary), "queued": queued, "received": received,
        "elapsed": elapsed, "inject_s": inject_s, "errors": errors, "log": srv.log_path,
        "note": f"{polls} `queue list --json` polls while draining, {poll_s / max(polls, 1):.2f} s each",
        "config": f"max_connections_per_domain={per_domain}, "
                  f"DKIM {'off' if args.unsigned else f'on ({dkim_keys} keys for example.test)'}",
    }


def _mailroomd_version(binary: Path) -> str:
    res = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
    return res.stdout.strip() or "mailroomd"


# --------------------------------------------------------------------------
# Postfix
# --------------------------------------------------------------------------


def run_postfix(args, workdir: Path, port: int) -> dict:
    reason = postfix_available()
    if reason:
        raise RuntimeError(reason)
    if not shutil.which("smtp-source"):
        raise RuntimeError("smtp-source is not installed")
    pf_dir = workdir / "postfix"
    pf_dir.mkdir()
    os.chmod(workdir, 0o755)
    (pf_dir / "etc").mkdir()
    (pf_dir / "etc" / "transport").write_text(f"sink.test smtp:[{SINK_IP}]:{port}\n")
    main_cf = {
        "transport_maps": f"texthash:{pf_dir / 'etc' / 'transport'}",
        "relay_domains": "",
        "smtp_tls_security_level": "none",
        "smtp_helo_name": "bench-postfix.test",
        "defer_transports": "smtp",
        "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
    }
    if args.per_domain:
        main_cf["smtp_destination_concurrency_limit"] = str(args.per_domain)
    pf = PrivatePostfix(pf_dir, POSTFIX_IP, port, "bench-postfix.test", main_cf=main_cf)
    concurrency = pf.run("postconf", "-c", str(pf.etc), "-x", "-h", "smtp_destination_concurrency_limit").stdout.strip()
    sink = Sink(SINK_IP, port, workdir).start()
    pf.start()
    errors: list[str] = []
    try:
        from_addr = "bench@remote.test" if args.unsigned else SENDER
        cmd = ["smtp-source", "-s", str(args.connections), "-m", str(args.messages), "-l", str(args.size),
               "-f", from_addr, "-t", RCPT, "-M", "bench.test", f"{POSTFIX_IP}:{port}"]
        t_inject = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
        if res.returncode != 0:
            errors.append(f"smtp-source exited {res.returncode}: {res.stderr.strip()[:500]}")
        # Wait until every message has been taken in and set aside as deferred.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and _count(pf.spool / "deferred") < args.messages:
            time.sleep(0.2)
        inject_s = time.perf_counter() - t_inject
        queued = pf.queue_count()
        if queued != args.messages:
            errors.append(f"{queued} messages queued after injecting {args.messages}")

        t0 = time.perf_counter()
        pf.postconf("defer_transports =")
        pf.reload()
        pf.flush()
        deadline = time.monotonic() + args.timeout
        while (left := pf.queue_count()) and time.monotonic() < deadline:
            time.sleep(0.2)
        elapsed = time.perf_counter() - t0
        if left:
            errors.append(f"{left} messages still queued after {args.timeout} s")
    finally:
        pf.stop()
        received = sink.stop()
    return {
        "name": f"postfix {pf.version()}", "queued": queued, "received": received,
        "elapsed": elapsed, "inject_s": inject_s, "errors": errors, "log": pf.maillog,
        "config": f"smtp_destination_concurrency_limit={concurrency}",
    }


def _count(path: Path) -> int:
    return sum(len(files) for _r, _d, files in os.walk(path))


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def print_table(args, rows: list[dict]) -> None:
    print()
    print(f"SMTP delivery: {args.messages} queued messages of ~{args.size} bytes for {RCPT}, "
          f"drained to smtp-sink on {SINK_IP}")
    print()
    headers = ["server", "queued", "sink got", "seconds", "msgs/s", "settings"]
    table = [[r["name"], str(r["queued"]), str(r["received"]), f"{r['elapsed']:.2f}",
              f"{r['queued'] / r['elapsed']:,.0f}" if r["elapsed"] else "-", r["config"]] for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for row in table:
        print("  ".join(c.rjust(w) if 1 <= i <= 4 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    print()
    for r in rows:
        print(f"{r['name']}: injection took {r['inject_s']:.2f} s (not timed)"
              + (f"; {r['note']}" if r.get("note") else ""))
        for e in r["errors"][:10]:
            print(f"  error ({r['name']}): {e}")
        if r["received"] != r["queued"]:
            print(f"  WARNING ({r['name']}): {r['queued']} queued but the sink counted {r['received']}; "
                  f"log: {r['log']}")
    if len(rows) == 2 and all(r["elapsed"] for r in rows):
        a, b = (r["queued"] / r["elapsed"] for r in rows)
        print(f"\nmailroomd / postfix delivery rate: {a:,.0f} / {b:,.0f} msgs/s = {a / b:.2f}x")
    print(f"(mailroomd's time includes noticing `queue resume`, up to queue_poll_secs = {POLL} s)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--messages", type=int, default=10_000)
    ap.add_argument("-c", "--connections", type=int, default=8, help="injection connections (not timed)")
    ap.add_argument("--size", type=int, default=2048, help="approximate message size in bytes")
    ap.add_argument("--per-domain", type=int, default=0,
                    help="connections per destination for both servers (default: each one's default)")
    ap.add_argument("--unsigned", action="store_true", help="From: a non-local domain, so no DKIM signing")
    ap.add_argument("--no-postfix", action="store_true", help="skip the Postfix comparison")
    ap.add_argument("--timeout", type=float, default=1800, help="give up draining after this many seconds")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    if args.messages < 1 or args.connections < 1 or args.connections > args.messages:
        ap.error("need 1 <= connections <= messages")

    workdir = Path(tempfile.mkdtemp(prefix="mailroom-deliver-bench-"))
    os.chmod(workdir, 0o755)
    port = None
    for _ in range(100):
        p = pick_offset("127.0.0.1") + 25
        if tcp_port_free(SINK_IP, p) and tcp_port_free(POSTFIX_IP, p):
            port = p
            break
    if port is None:
        print("no free port on 127.0.0.2/127.0.0.3", file=sys.stderr)
        return 2
    dns = TestDNS({"sink.test": {"MX": [(10, "mx.sink.test")]}, "mx.sink.test": {"A": [SINK_IP]}}).start()
    rows = []
    try:
        try:
            rows.append(run_mailroom(args, workdir, port, dns))
        except BinaryMissing as e:
            print(e, file=sys.stderr)
            return 2
        if not args.no_postfix:
            try:
                rows.append(run_postfix(args, workdir, port))
            except Exception as e:  # noqa: BLE001
                print(f"postfix comparison skipped: {e}", file=sys.stderr)
        print_table(args, rows)
    finally:
        dns.stop()
        if args.keep:
            print(f"\nkept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    ok = all(r["queued"] == r["received"] == args.messages and not r["errors"] for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
