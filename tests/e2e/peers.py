"""The outside world for the outbound-delivery tests.

Everything here runs on this machine, on loopback addresses only:

* `TestDNS`: an authoritative DNS server (UDP and TCP, dnslib) on 127.0.0.1
  and a free port, answering from a dict of MX, A, AAAA and TXT records;
  NXDOMAIN for every name it does not know. mailroomd is pointed at it with
  the `dns_servers` setting.
* `SMTPPeer`: a scripted SMTP server (aiosmtpd) on 127.0.0.x:PORT that
  records every session, envelope and message, can answer RCPT and DATA
  with 4xx a given number of times or with 5xx, can be slow to answer DATA,
  and can offer STARTTLS and AUTH.
* `CertAuthority`: a private CA made with the `openssl` command, issuing
  server certificates for the peers.
* `PrivatePostfix` / `PostfixPeer`: a private Postfix instance (its own
  config, queue and data directories) as a real MX that delivers into a
  maildir; the benchmark uses the same class as a relaying MTA.

mailroomd uses one `remote_smtp_port` for every MX host, so the peers of a
test run all listen on the same port, each on its own 127.0.0.x address
(`LoopbackAddresses` hands them out).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pwd
import random
import shutil
import socket
import ssl
import subprocess
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

# aiosmtpd sets the deprecated Session.login_data itself after AUTH.
warnings.filterwarnings("ignore", message="Session.login_data is deprecated")

# --------------------------------------------------------------------------
# Ports and addresses
# --------------------------------------------------------------------------


def tcp_port_free(host: str, port: int) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def listening(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


class LoopbackAddresses:
    """Hands out 127.0.0.x addresses (x >= 2) on which `port` is free.

    Every test gets addresses of its own, so a peer of one test can never
    receive mail meant for another.
    """

    def __init__(self, port: int | None = None):
        self.port = port or self._pick_port()
        self._next = itertools.cycle(range(2, 255))
        self._lock = threading.Lock()

    @staticmethod
    def _pick_port() -> int:
        # 41000 and up stays clear of the port offsets mailroomd is started
        # with (20000..40000 plus at most 995), which bind 127.0.0.1 only anyway.
        for _ in range(200):
            port = random.randint(41000, 60000)
            if all(tcp_port_free(f"127.0.0.{x}", port) for x in (2, 3, 4, 5)):
                return port
        raise RuntimeError("no free port for the SMTP peers")

    def take(self) -> str:
        """An address where nothing listens on `port` (yet)."""
        with self._lock:
            for _ in range(260):
                ip = f"127.0.0.{next(self._next)}"
                if tcp_port_free(ip, self.port) and not listening(ip, self.port):
                    return ip
        raise RuntimeError(f"no loopback address with port {self.port} free")


# --------------------------------------------------------------------------
# DNS
# --------------------------------------------------------------------------


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


class TestDNS:
    """Authoritative answers from `records`, over UDP and TCP.

    records = {"example.net": {"MX": [(10, "mx1.example.net")], "A": ["127.0.0.2"]},
               "mx1.example.net": {"A": ["127.0.0.2"]},
               "nullmx.test": {"MX": [(0, ".")]}}

    Names are case-insensitive. A known name without records of the asked
    type gets an empty NOERROR answer; an unknown name gets NXDOMAIN. A name
    with a CNAME (CNAME=["target.test"]) answers every other type with the
    CNAME followed by the target's records of that type, as an authoritative
    server does for names in its zone. SRV values are (priority, weight,
    port, target). `records` may be changed while the server runs.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, records: dict | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.records: dict[str, dict[str, list]] = {}
        self.queries: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        for name, recs in (records or {}).items():
            self.set(name, **recs)
        self._servers = []
        self.port = 0

    # ---- records ---------------------------------------------------------

    def set(self, name: str, **types: list) -> None:
        """Replace the records of `name`, e.g. set("x.test", MX=[(10, "mx.x.test")])."""
        with self._lock:
            self.records[_norm(name)] = {t.upper(): list(v) for t, v in types.items()}

    def remove(self, name: str) -> None:
        with self._lock:
            self.records.pop(_norm(name), None)

    def mail_domain(self, domain: str, hosts: list[tuple[int, str]]) -> list[str]:
        """MX records for `domain`: one host name `mxN.<domain>` per (preference, ip)."""
        names = []
        for i, (pref, ip) in enumerate(hosts, start=1):
            host = f"mx{i}.{domain}"
            self.set(host, A=[ip])
            names.append(host)
        self.set(domain, MX=[(pref, names[i]) for i, (pref, _ip) in enumerate(hosts)])
        return names

    def null_mx(self, domain: str) -> None:
        self.set(domain, MX=[(0, ".")])

    # ---- server ----------------------------------------------------------

    def resolve(self, request, handler):
        from dnslib import AAAA, CNAME, MX, QTYPE, RCODE, RR, SOA, SRV, TXT, A

        reply = request.reply()
        reply.header.aa = 1
        qname = str(request.q.qname)
        qtype = QTYPE[request.q.qtype]
        with self._lock:
            self.queries.append((_norm(qname), qtype))
            recs = self.records.get(_norm(qname))
            recs = None if recs is None else {k: list(v) for k, v in recs.items()}
            # Follow a CNAME (a few steps at most) for any other type.
            hops = 0
            while recs is not None and recs.get("CNAME") and qtype != "CNAME" and hops < 8:
                target = recs["CNAME"][0]
                reply.add_answer(RR(qname, QTYPE.CNAME, rdata=CNAME(target), ttl=60))
                qname = target if target.endswith(".") else target + "."
                recs = self.records.get(_norm(qname))
                recs = None if recs is None else {k: list(v) for k, v in recs.items()}
                hops += 1
        if recs is None and hops:
            # The CNAME target is not known here: the answer is the chain alone.
            return reply
        if recs is None:
            reply.header.rcode = RCODE.NXDOMAIN
        if recs is None or not recs.get(qtype):
            # Negative answers carry an SOA with a 1 s negative TTL, so that a
            # resolver cache never outlives a test's change of records.
            reply.add_auth(RR("test.", QTYPE.SOA, ttl=1, rdata=SOA(
                "ns.test.", "hostmaster.test.", (1, 3600, 600, 86400, 1))))
            return reply
        for value in recs.get(qtype, []):
            if qtype == "MX":
                pref, host = value
                rdata = MX(host if host != "." else ".", pref)
            elif qtype == "A":
                rdata = A(value)
            elif qtype == "AAAA":
                rdata = AAAA(value)
            elif qtype == "TXT":
                raw = value.encode() if isinstance(value, str) else value
                rdata = TXT([raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""])
            elif qtype == "CNAME":
                rdata = CNAME(value)
            elif qtype == "SRV":
                priority, weight, port, target = value
                rdata = SRV(priority, weight, port, target)
            else:
                continue
            reply.add_answer(RR(qname, request.q.qtype, rdata=rdata, ttl=60))
        return reply

    def start(self) -> "TestDNS":
        from dnslib.server import DNSLogger, DNSServer

        logger = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
        for _ in range(50):
            port = random.randint(41000, 60000)
            try:
                udp = DNSServer(self, port=port, address=self.host, logger=logger)
            except OSError:
                continue
            try:
                tcp = DNSServer(self, port=port, address=self.host, logger=logger, tcp=True)
            except OSError:
                udp.server.server_close()
                continue
            self._servers = [udp, tcp]
            self.port = port
            for s in self._servers:
                s.start_thread()
            return self
        raise RuntimeError("could not bind the test DNS server")

    @property
    def address(self) -> str:
        """The value for mailroomd's `dns_servers` setting."""
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        for s in self._servers:
            with contextlib.suppress(Exception):
                s.stop()
                s.server.server_close()
        self._servers = []


# --------------------------------------------------------------------------
# Certificates (openssl command line; no Python crypto packages needed)
# --------------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    res = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {res.stderr}")


@dataclass
class CertPair:
    cert: Path  # PEM: the server certificate followed by the CA certificate
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.cert), str(self.key))
        return ctx


class CertAuthority:
    """A private CA; `ca_file` is what a client must trust to verify its certificates."""

    def __init__(self, directory: Path, name: str = "Mailroom Test CA"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca_file = self.dir / "ca.pem"
        self.ca_key = self.dir / "ca.key"
        self._serial = itertools.count(1)
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", str(self.ca_key), "-out", str(self.ca_file), "-days", "30",
                 "-subj", f"/CN={name}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=self.dir)

    def issue(self, names: list[str], ips: list[str] = ()) -> CertPair:
        """A server certificate for DNS `names` and IP addresses `ips`."""
        n = next(self._serial)
        stem = self.dir / f"server{n}"
        key, csr, crt, ext = (stem.with_suffix(s) for s in (".key", ".csr", ".crt", ".ext"))
        san = ",".join([f"DNS:{x}" for x in names] + [f"IP:{x}" for x in ips])
        ext.write_text(
            f"subjectAltName={san}\n"
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n"
        )
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={(names or ips)[0]}",
                 cwd=self.dir)
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(self.ca_file), "-CAkey", str(self.ca_key),
                 "-set_serial", str(1000 + n), "-days", "30", "-extfile", str(ext), "-out", str(crt),
                 cwd=self.dir)
        chain = stem.with_suffix(".chain.pem")
        chain.write_bytes(crt.read_bytes() + self.ca_file.read_bytes())
        return CertPair(cert=chain, key=key)


# --------------------------------------------------------------------------
# Scripted SMTP peer (aiosmtpd)
# --------------------------------------------------------------------------


@dataclass
class PeerSession:
    """One SMTP connection that the peer saw."""

    no: int
    helo: str | None = None
    tls: bool = False
    login: str | None = None
    mail_from: list[str] = field(default_factory=list)
    rcpts: list[tuple[str, int]] = field(default_factory=list)  # (address, reply code)
    data_replies: list[int] = field(default_factory=list)


@dataclass
class PeerMessage:
    """A message the peer accepted (250 after DATA)."""

    session: int
    mail_from: str
    rcpt_tos: list[str]
    content: bytes  # exactly as received, CRLF line ends, dot-unstuffed
    tls: bool
    login: str | None
    helo: str | None


class _Rule:
    def __init__(self, reply: str, times: int | None, address: str | None):
        self.reply, self.times, self.address = reply, times, address and address.lower()

    def take(self, address: str | None) -> str | None:
        if self.address is not None and (address or "").lower() != self.address:
            return None
        if self.times is not None:
            if self.times <= 0:
                return None
            self.times -= 1
        return self.reply


class SMTPPeer:
    """A scripted SMTP server on `ip:port`.

    peer = SMTPPeer(ip, port).start()
    peer.on_rcpt("451 4.3.0 try again later", times=2)   # then accept
    peer.on_rcpt("550 5.1.1 no such user", address="x@d.test")
    peer.on_data("554 5.6.0 rejected")
    peer.data_delay = 3.0                                  # hold the DATA reply

    Rules are tried in the order they were added; the first that applies
    answers, a rule with `times` applies that many times. Without a rule the
    peer accepts. `messages` lists accepted messages, `sessions` every
    connection that sent EHLO/HELO or MAIL.
    """

    def __init__(self, ip: str, port: int, *, hostname: str = "peer.test",
                 tls: CertPair | None = None, auth: dict[str, str] | None = None,
                 data_delay: float = 0.0):
        self.ip, self.port = ip, port
        self.hostname = hostname
        self.tls = tls
        self.auth = auth
        self.data_delay = data_delay
        self.messages: list[PeerMessage] = []
        self.sessions: dict[int, PeerSession] = {}
        self.logins: list[tuple[str, str, bool]] = []  # (user, password, accepted)
        self.data_started = threading.Event()
        # Hold the reply to the data of every message after the first
        # `hold_after` ones for `hold_secs` (0 = never).
        self.hold_after = 0
        self.hold_secs = 0.0
        self.held = threading.Event()
        self._data_count = 0
        self._rcpt_rules: list[_Rule] = []
        self._data_rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._controller = None

    # ---- script ----------------------------------------------------------

    def on_rcpt(self, reply: str, times: int | None = None, address: str | None = None) -> None:
        with self._lock:
            self._rcpt_rules.append(_Rule(reply, times, address))

    def on_data(self, reply: str, times: int | None = None) -> None:
        with self._lock:
            self._data_rules.append(_Rule(reply, times, None))

    def accept_all(self) -> None:
        with self._lock:
            self._rcpt_rules.clear()
            self._data_rules.clear()

    def _scripted(self, rules: list[_Rule], address: str | None) -> str | None:
        with self._lock:
            for rule in rules:
                reply = rule.take(address)
                if reply is not None:
                    return reply
        return None

    # ---- what was seen ---------------------------------------------------

    def mail_sessions(self) -> list[PeerSession]:
        """Sessions that got as far as MAIL FROM."""
        with self._lock:
            return [s for s in self.sessions.values() if s.mail_from]

    def rcpt_attempts(self, address: str | None = None) -> list[tuple[str, int]]:
        with self._lock:
            return [r for s in self.sessions.values() for r in s.rcpts
                    if address is None or r[0].lower() == address.lower()]

    def with_token(self, token: str) -> list[PeerMessage]:
        return [m for m in list(self.messages) if token.encode() in m.content]

    def wait_messages(self, count: int = 1, timeout: float = 20, token: str | None = None) -> list[PeerMessage]:
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.with_token(token) if token else list(self.messages)
            if len(msgs) >= count or time.monotonic() > deadline:
                return msgs
            time.sleep(0.05)

    # ---- aiosmtpd plumbing -----------------------------------------------

    def _session(self, server) -> PeerSession:
        # Numbered per connection (the SMTP protocol object): aiosmtpd starts
        # a new Session object after STARTTLS, on the same connection.
        no = getattr(server, "peer_no", None)
        if no is None:
            no = server.peer_no = next(self._counter)
        with self._lock:
            rec = self.sessions.get(no)
            if rec is None:
                rec = self.sessions[no] = PeerSession(no)
        return rec

    def _refresh(self, server, session) -> PeerSession:
        rec = self._session(server)
        rec.helo = session.host_name or rec.helo
        rec.tls = rec.tls or session.ssl is not None or getattr(server, "_tls_protocol", None) is not None
        if session.authenticated and session.auth_data is not None:
            login = getattr(session.auth_data, "login", None)
            rec.login = login.decode() if isinstance(login, bytes) else login
        return rec

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self._refresh(server, session)
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        session.host_name = hostname
        self._refresh(server, session)
        return f"250 {self.hostname}"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        rec = self._refresh(server, session)
        rec.mail_from.append(address)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        rec = self._refresh(server, session)
        reply = self._scripted(self._rcpt_rules, address) or "250 2.1.5 Ok"
        with self._lock:
            rec.rcpts.append((address, int(reply[:3])))
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        return reply

    async def handle_DATA(self, server, session, envelope):
        rec = self._refresh(server, session)
        self.data_started.set()
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        with self._lock:
            self._data_count += 1
            hold = self.hold_secs if self.hold_secs and self._data_count > self.hold_after else 0.0
        if hold:
            self.held.set()
            await asyncio.sleep(hold)
        reply = self._scripted(self._data_rules, None) or "250 2.0.0 Ok: queued"
        with self._lock:
            rec.data_replies.append(int(reply[:3]))
            if reply.startswith("2"):
                self.messages.append(PeerMessage(
                    session=rec.no, mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
                    content=bytes(envelope.original_content), tls=rec.tls, login=rec.login, helo=rec.helo,
                ))
        return reply

    def _authenticator(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode(errors="replace")
        password = auth_data.password.decode(errors="replace")
        ok = self.auth is not None and self.auth.get(user) == password
        with self._lock:
            self.logins.append((user, password, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    def start(self) -> "SMTPPeer":
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP

        peer = self
        kwargs = dict(hostname=self.hostname, ident="ESMTP test peer", enable_SMTPUTF8=True,
                      decode_data=False, data_size_limit=64 * 1024 * 1024)
        if self.tls is not None:
            kwargs["tls_context"] = self.tls.server_context()
        if self.auth is not None:
            kwargs["authenticator"] = self._authenticator
            kwargs["auth_require_tls"] = self.tls is not None

        class _Controller(Controller):
            def factory(self):
                return SMTP(peer, **kwargs)

            def _trigger_server(self):
                # The stock trigger opens a connection to (hostname, port); be
                # explicit about the address (it is one of 127.0.0.x).
                with socket.create_connection((peer.ip, peer.port), 2) as s:
                    s.recv(1024)

        self._controller = _Controller(self, hostname=self.ip, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            with contextlib.suppress(Exception):
                self._controller.stop()
            self._controller = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --------------------------------------------------------------------------
# Postfix
# --------------------------------------------------------------------------


def postfix_available() -> str | None:
    """None if a private Postfix can run here, else the reason it cannot."""
    if os.geteuid() != 0:
        return "a private Postfix instance needs root"
    for tool in ("postfix", "postconf"):
        if not shutil.which(tool):
            return f"{tool} is not installed (apt-get install postfix)"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "there is no postfix user"
    return None


def _master_cf(listen: str) -> str:
    """Debian's master.cf with smtpd moved to `listen` (ip:port) and no chroot."""
    src = Path("/etc/postfix/master.cf")
    if not src.exists():
        src = Path("/usr/share/postfix/master.cf.dist")
    if not src.exists():
        src = Path("/etc/postfix/master.cf.proto")
    out, has_postlog = [], False
    for line in src.read_text().splitlines():
        if not line or line[0] in "# \t":
            out.append(line)
            continue
        f = line.split()
        if len(f) >= 8:
            f[4] = "n"  # chroot off: the private instance has no chroot jail
            if f[0] == "smtp" and f[1] == "inet":
                f[0] = listen
            if f[0] == "postlog":
                has_postlog = True
        out.append("  ".join(f))
    if not has_postlog:
        out.append("postlog   unix-dgram n  -       n       -       1       postlogd")
    return "\n".join(out) + "\n"


class PrivatePostfix:
    """A Postfix instance with its own config, queue and data directories.

    `main_cf` (a dict) overrides a base configuration that listens on
    `ip:port` only, never does DNS, and logs to `<dir>/maillog`. The
    daemons drop privileges, so every parent of `directory` must be
    searchable by the postfix user (a `tempfile.mkdtemp` directory made
    0755 is; pytest's tmp_path is not).
    """

    def __init__(self, directory: Path, ip: str, port: int, hostname: str, main_cf: dict | None = None):
        self.dir = Path(directory)
        self.ip, self.port, self.hostname = ip, port, hostname
        self.etc, self.spool, self.data, self.mail = (self.dir / x for x in ("etc", "spool", "data", "mail"))
        for d in (self.dir, self.etc, self.spool, self.data, self.mail):
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o755)
        self.owner = pwd.getpwnam("postfix")
        os.chown(self.data, self.owner.pw_uid, self.owner.pw_gid)
        os.chown(self.mail, self.owner.pw_uid, self.owner.pw_gid)
        self.maillog = self.dir / "maillog"
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.spool),
            "data_directory": str(self.data),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": hostname,
            "mydomain": "localhost",
            "myorigin": "$myhostname",
            "mydestination": "",
            # Postfix insists that inet_interfaces be configured on an
            # interface, which 127.0.0.x (x > 1) is not; the smtpd service
            # in master.cf listens on ip:port explicitly instead.
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": "",
            "alias_maps": "",
            "alias_database": "",
            "smtpd_banner": "$myhostname ESMTP",
            "smtpd_peername_lookup": "no",
            "disable_dns_lookups": "yes",
            "smtp_host_lookup": "native",
            "smtp_dns_support_level": "disabled",
            "message_size_limit": "67108864",
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": str(self.dir),
            "biff": "no",
            # Leave the headers of mail from 127.0.0.1 alone (DKIM signatures must survive).
            "local_header_rewrite_clients": "",
        }
        settings.update(main_cf or {})
        (self.etc / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        (self.etc / "master.cf").write_text(_master_cf(f"{ip}:{port}"))
        self.env = dict(os.environ, MAIL_CONFIG=str(self.etc))
        self.master_pid: int | None = None

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        res = subprocess.run(list(cmd), capture_output=True, text=True, env=self.env, timeout=120)
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stdout}{res.stderr}")
        return res

    def postfix(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run("postfix", "-c", str(self.etc), *args, check=check)

    def postconf(self, *settings: str) -> None:
        self.run("postconf", "-c", str(self.etc), "-e", *settings)

    def start(self, timeout: float = 30) -> "PrivatePostfix":
        self.postfix("set-permissions", check=False)
        self.postfix("start")
        deadline = time.monotonic() + timeout
        pid_file = self.spool / "pid" / "master.pid"
        while time.monotonic() < deadline:
            try:
                self.master_pid = int(pid_file.read_text().split()[0])
                if listening(self.ip, self.port):
                    return self
            except (OSError, ValueError, IndexError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"postfix did not start listening on {self.ip}:{self.port}\n{self.log_text()}")

    def stop(self) -> None:
        self.postfix("stop", check=False)
        deadline = time.monotonic() + 20
        while self.master_pid and Path(f"/proc/{self.master_pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    def reload(self) -> None:
        self.postfix("reload")

    def flush(self) -> None:
        self.run("postqueue", "-c", str(self.etc), "-f")

    def queue_count(self) -> int:
        """Messages anywhere in the queue (counted from the queue directories)."""
        total = 0
        for q in ("maildrop", "incoming", "active", "deferred", "hold"):
            for _root, _dirs, files in os.walk(self.spool / q):
                total += len(files)
        return total

    def log_text(self) -> str:
        try:
            return self.maillog.read_text(errors="replace")
        except OSError:
            return "(no log)"

    def version(self) -> str:
        return self.run("postconf", "-d", "-h", "mail_version", check=False).stdout.strip()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class PostfixPeer(PrivatePostfix):
    """A real MX for `domain`: every address there is delivered to one maildir."""

    def __init__(self, directory: Path, ip: str, port: int, domain: str, hostname: str = "postfix-peer.test"):
        owner = pwd.getpwnam("postfix")
        directory = Path(directory)
        (directory / "etc").mkdir(parents=True, exist_ok=True)
        (directory / "etc" / "vmailbox").write_text(f"@{domain} {domain}/Maildir/\n")
        super().__init__(directory, ip, port, hostname, main_cf={
            "mydestination": domain,
            "local_recipient_maps": "",
            "local_transport": "virtual",
            "virtual_mailbox_base": str(directory / "mail"),
            "virtual_mailbox_maps": f"texthash:{directory / 'etc' / 'vmailbox'}",
            "virtual_uid_maps": f"static:{owner.pw_uid}",
            "virtual_gid_maps": f"static:{owner.pw_gid}",
            "virtual_minimum_uid": str(min(owner.pw_uid, 100)),
            "virtual_mailbox_limit": "0",
            "default_transport": "error:this test peer delivers nothing onward",
            "relay_transport": "error:this test peer delivers nothing onward",
        })
        self.domain = domain
        self.maildir = self.mail / domain / "Maildir"

    def messages(self) -> list[bytes]:
        """Every delivered message, oldest first, with CRLF line ends."""
        files = []
        for sub in ("new", "cur"):
            with contextlib.suppress(OSError):
                files.extend((self.maildir / sub / f) for f in os.listdir(self.maildir / sub))
        files.sort(key=lambda p: (p.stat().st_mtime, p.name))
        return [p.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") for p in files]

    def wait_messages(self, token: str, count: int = 1, timeout: float = 20) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while True:
            hits = [m for m in self.messages() if token.encode() in m]
            if len(hits) >= count or time.monotonic() > deadline:
                return hits
            time.sleep(0.1)
