"""The TLS certificate through the admin API and `mailroomd cert`: showing
it, importing one (made here with the openssl command), making a new
self-signed one, and refusals, against the real server and real TLS
clients (Python's ssl, smtplib, imaplib, poplib).

A change must reach the very next handshake on every TLS listener (implicit
TLS and STARTTLS/STLS, and remote administration over HTTPS) without a
restart, while connections opened before keep working; a refused
certificate must change nothing.
"""

from __future__ import annotations

import hashlib
import http.client
import imaplib
import json
import os
import poplib
import smtplib
import socket
import ssl
import stat
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import require_program
from mailroom import PASSWORDS, client_tls_context, wait_for
from test_admin_api import call, token_of
from test_admin_live import EventStream, notification

ALICE = "alice@example.test"
HOSTNAME = "mx.example.test"
IMPLICIT = ("submissions", "pop3s", "imaps")
STARTTLS = ("smtp", "submission", "pop3", "imap")


# ---- helpers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def srv(server_factory):
    return server_factory(settings={"hostname": HOSTNAME})


def fingerprint(der: bytes) -> str:
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def presented(srv, name: str) -> str:
    """Fingerprint of the certificate a fresh connection to listener `name` gets."""
    host, port = srv.addr(name)
    ctx = client_tls_context()
    if name in IMPLICIT:
        with socket.create_connection((host, port), timeout=10) as raw, ctx.wrap_socket(raw) as s:
            return fingerprint(s.getpeercert(binary_form=True))
    if name in ("smtp", "submission"):
        with smtplib.SMTP(host, port, timeout=10) as s:
            s.starttls(context=ctx)
            der = s.sock.getpeercert(binary_form=True)
        return fingerprint(der)
    if name == "imap":
        m = imaplib.IMAP4(host, port, timeout=10)
        m.starttls(ssl_context=ctx)
        der = m.sock.getpeercert(binary_form=True)
        m.logout()
        return fingerprint(der)
    if name == "pop3":
        p = poplib.POP3(host, port, timeout=10)
        p.stls(context=ctx)
        der = p.sock.getpeercert(binary_form=True)
        p.quit()
        return fingerprint(der)
    raise AssertionError(name)


def presented_https(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=10) as raw, \
            client_tls_context().wrap_socket(raw) as s:
        return fingerprint(s.getpeercert(binary_form=True))


def all_presented(srv) -> dict[str, str]:
    return {name: presented(srv, name) for name in (*IMPLICIT, *STARTTLS)}


def pem_fingerprint(pem: str) -> str:
    return fingerprint(ssl.PEM_cert_to_DER_cert(pem))


def get_cert(srv) -> dict:
    status, info = call(srv, "GET", "/api/v1/certificate", token=token_of(srv))
    assert status == 200, info
    return info


def put_cert(srv, cert_pem: str, key_pem: str):
    return call(srv, "PUT", "/api/v1/certificate", {"cert_pem": cert_pem, "key_pem": key_pem},
                token=token_of(srv))


def openssl_text(*args: str, input: str | None = None) -> str:
    return subprocess.run(["openssl", *args], check=True, capture_output=True, text=True, input=input,
                          timeout=30).stdout


def rfc3339(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


class OpenSSL:
    """Certificates made with the openssl command, in a directory of their own."""

    def __init__(self, d: Path):
        require_program("openssl")
        self.d = d
        self.n = 0

    def _name(self, stem: str) -> Path:
        self.n += 1
        return self.d / f"{stem}-{self.n}"

    def self_signed(self, cn: str = "mail.example.test", days: int = 90, names: tuple[str, ...] = ()) -> tuple[str, str]:
        """(cert_pem, key_pem) of an RSA certificate made with `openssl req -x509`."""
        base = self._name("self")
        san = ",".join(f"DNS:{n}" for n in (names or (cn,)))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(days),
                        "-subj", f"/CN={cn}", "-addext", f"subjectAltName={san}",
                        "-keyout", f"{base}.key", "-out", f"{base}.pem"], check=True, capture_output=True)
        return Path(f"{base}.pem").read_text(), Path(f"{base}.key").read_text()

    def ca(self, cn: str = "Mailroom Test CA") -> tuple[Path, Path]:
        base = self._name("ca")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365",
                        "-subj", f"/CN={cn}", "-addext", "basicConstraints=critical,CA:TRUE",
                        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                        "-keyout", f"{base}.key", "-out", f"{base}.pem"], check=True, capture_output=True)
        return Path(f"{base}.pem"), Path(f"{base}.key")

    def issued(self, ca: tuple[Path, Path], cn: str = "mail.example.test") -> tuple[str, str]:
        """(leaf_pem, key_pem) of a certificate `ca` issued."""
        base = self._name("leaf")
        subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-subj", f"/CN={cn}", "-keyout", f"{base}.key", "-out", f"{base}.csr"],
                       check=True, capture_output=True)
        Path(f"{base}.ext").write_text(f"subjectAltName=DNS:{cn}\nextendedKeyUsage=serverAuth\n")
        subprocess.run(["openssl", "x509", "-req", "-in", f"{base}.csr", "-CA", str(ca[0]), "-CAkey", str(ca[1]),
                        "-CAcreateserial", "-days", "60", "-extfile", f"{base}.ext", "-out", f"{base}.pem"],
                       check=True, capture_output=True)
        return Path(f"{base}.pem").read_text(), Path(f"{base}.key").read_text()

    def expired(self, cn: str = "old.example.test") -> tuple[str, str]:
        """A self-signed certificate valid in January 2020 only (`openssl ca` can set the dates)."""
        base = self._name("expired")
        db = Path(f"{base}.db")
        db.mkdir()
        (db / "index.txt").write_text("")
        (db / "serial").write_text("01\n")
        conf = Path(f"{base}.cnf")
        conf.write_text(
            "[ca]\ndefault_ca = mine\n"
            f"[mine]\ndir = {db}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir\nserial = $dir/serial\n"
            "default_md = sha256\npolicy = anything\nx509_extensions = v3\n[anything]\ncommonName = supplied\n"
            f"[v3]\nsubjectAltName = DNS:{cn}\nbasicConstraints = CA:FALSE\n")
        subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
                        "-keyout", f"{base}.key", "-out", f"{base}.csr"], check=True, capture_output=True)
        subprocess.run(["openssl", "ca", "-batch", "-selfsign", "-config", str(conf), "-keyfile", f"{base}.key",
                        "-in", f"{base}.csr", "-out", f"{base}.pem", "-notext",
                        "-startdate", "200101000000Z", "-enddate", "200201000000Z"],
                       check=True, capture_output=True)
        return Path(f"{base}.pem").read_text(), Path(f"{base}.key").read_text()


@pytest.fixture
def certs(tmp_path) -> OpenSSL:
    return OpenSSL(tmp_path)


# ---- tests ---------------------------------------------------------------------


def test_the_first_certificate_is_self_signed_and_served(srv):
    info = get_cert(srv)
    assert info["subject"] == HOSTNAME
    assert info["names"] == [HOSTNAME, "localhost"]
    assert info["issuer"] == HOSTNAME and info["self_signed"] is True
    assert info["chain_length"] == 1
    assert 823 <= info["days_left"] <= 825, info
    assert (rfc3339(info["not_after"]) - rfc3339(info["not_before"])).days == 825
    assert rfc3339(info["not_before"]) <= datetime.now(timezone.utc)
    # It is the one on disk and the one every listener presents.
    assert info["fingerprint_sha256"] == pem_fingerprint((srv.data_dir / "tls" / "cert.pem").read_text())
    assert set(all_presented(srv).values()) == {info["fingerprint_sha256"]}
    _, st = call(srv, "GET", "/api/v1/status", token=token_of(srv))
    assert rfc3339(st["certificate_expires_at"]) == rfc3339(info["not_after"])


def test_an_imported_certificate_is_used_by_the_next_handshake_everywhere(srv, certs):
    token = token_of(srv)
    pid = srv.proc.pid
    old = get_cert(srv)["fingerprint_sha256"]
    # Remote administration over HTTPS uses the same certificate.
    status, _ = call(srv, "PUT", "/api/v1/settings/admin_remote_access", {"value": "true"}, token=token)
    assert status == 200
    remote = (srv.host, 8443 + srv.offset)
    wait_for(lambda: _connects(*remote), what="remote administration open")
    try:
        assert presented_https(*remote) == old

        # Sessions opened before the change.
        imap_before = srv.raw_imap(ALICE)
        smtp_before = smtplib.SMTP(*srv.addr("submission"), timeout=10)
        smtp_before.starttls(context=client_tls_context())
        smtp_before.login(ALICE, PASSWORDS[ALICE])
        https_before = http.client.HTTPSConnection(*remote, context=ssl._create_unverified_context(), timeout=30)
        https_before.request("GET", "/api/v1/status", headers={"Authorization": f"Bearer {token}"})
        assert https_before.getresponse().read()

        cert_pem, key_pem = certs.self_signed("mail.example.test")
        status, info = put_cert(srv, cert_pem, key_pem)
        assert status == 200, info
        new = pem_fingerprint(cert_pem)
        assert info["fingerprint_sha256"] == new != old
        assert info["subject"] == "mail.example.test" and info["names"] == ["mail.example.test"]
        assert info["self_signed"] is True and info["chain_length"] == 1
        assert 88 <= info["days_left"] <= 90

        # The very next handshake on every listener presents the new one.
        seen = all_presented(srv)
        assert seen == {name: new for name in seen}, seen
        assert presented_https(*remote) == new
        assert srv.proc.pid == pid and srv.proc.poll() is None

        # The sessions opened before go on with the old one.
        assert fingerprint(imap_before.sock.getpeercert(binary_form=True)) == old
        imap_before.ok("NOOP")
        imap_before.ok("SELECT INBOX")
        imap_before.logout()
        assert smtp_before.noop()[0] == 250
        smtp_before.sendmail(ALICE, [ALICE], b"Subject: sent over the old session\r\n\r\nhello\r\n")
        smtp_before.quit()
        https_before.request("GET", "/api/v1/certificate", headers={"Authorization": f"Bearer {token}"})
        r = https_before.getresponse()
        assert r.status == 200 and json.loads(r.read())["fingerprint_sha256"] == new
        https_before.close()
    finally:
        call(srv, "PUT", "/api/v1/settings/admin_remote_access", {"value": "false"}, token=token)

    # What the API shows and what is on disk.
    assert get_cert(srv)["fingerprint_sha256"] == new
    tls = srv.data_dir / "tls"
    on_disk = (tls / "cert.pem").read_text()
    assert pem_fingerprint(on_disk) == new and "PRIVATE KEY" not in on_disk
    assert stat.S_IMODE(os.stat(tls / "key.pem").st_mode) == 0o600
    assert not list(tls.glob("*.new"))
    _, st = call(srv, "GET", "/api/v1/status", token=token)
    assert rfc3339(st["certificate_expires_at"]) == rfc3339(info["not_after"])
    assert "certificate replaced" in srv.log_text()


def _connects(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


def test_a_chain_from_an_authority_in_order(srv, certs):
    ca = certs.ca()
    leaf, key = certs.issued(ca, "mail.example.test")
    ca_pem = ca[0].read_text()
    # Out of order: refused, and it says what to do.
    status, err = put_cert(srv, ca_pem + leaf, key)
    assert status == 422 and "belongs to certificate 2" in err["error"] and "first" in err["error"], err
    status, info = put_cert(srv, leaf + ca_pem, key)
    assert status == 200, info
    assert info["chain_length"] == 2 and info["self_signed"] is False
    assert info["issuer"] == "Mailroom Test CA" and info["subject"] == "mail.example.test"
    # The whole chain is sent in the handshake; the leaf is what the client sees first.
    assert presented(srv, "imaps") == pem_fingerprint(leaf)
    chain = openssl_text("s_client", "-connect", "%s:%d" % srv.addr("imaps"), "-showcerts", input="")
    assert chain.count("-----BEGIN CERTIFICATE-----") == 2, chain


def test_refused_certificates_change_nothing(srv, certs):
    before = get_cert(srv)
    fp = before["fingerprint_sha256"]
    cert_a, _ = certs.self_signed("a.example.test")
    _, key_b = certs.self_signed("b.example.test")
    expired_cert, expired_key = certs.expired()
    cases = [
        ((cert_a, key_b), "The private key does not belong to this certificate."),
        ((expired_cert, expired_key), "This certificate expired on 2020-02-01."),
        (("hello", key_b),
         "No certificate found in the text; paste the PEM text that starts with -----BEGIN CERTIFICATE-----."),
        ((cert_a, cert_a), "No private key found in the text"),
        ((cert_a, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"),
         "The private key is protected by a password"),
        (("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n", key_b), "The certificate text is damaged"),
    ]
    for (cert_pem, key_pem), message in cases:
        status, err = put_cert(srv, cert_pem, key_pem)
        assert status == 422, (message, status, err)
        assert err["error"].startswith(message), (message, err)
        # Still the old certificate, on the next handshake and on disk.
        assert presented(srv, "submissions") == fp
        assert presented(srv, "imap") == fp
    after = get_cert(srv)
    assert (after["fingerprint_sha256"], after["not_after"]) == (fp, before["not_after"])
    token = token_of(srv)
    # The body's own problems: too large, not JSON, a field missing.
    status, err = put_cert(srv, "x" * (300 * 1024), key_b)
    assert status == 413 and "error" in err
    status, err = call(srv, "PUT", "/api/v1/certificate", token=token, body=None,
                       headers={"Content-Type": "text/plain"})
    assert status == 415 and "error" in err
    status, err = call(srv, "PUT", "/api/v1/certificate", {"cert_pem": cert_a}, token=token)
    assert status == 422 and "key_pem" in err["error"]
    assert presented(srv, "smtp") == fp
    assert not list((srv.data_dir / "tls").glob("*.new"))
    log = srv.log_text()
    assert "certificate refused" in log and "admin API request failed" not in log


def test_a_new_self_signed_certificate_with_names(srv):
    token = token_of(srv)
    old = get_cert(srv)["fingerprint_sha256"]
    names = ["mail.example.test", "MX.Example.Test", "mx.example.test", "*.example.test"]
    status, info = call(srv, "POST", "/api/v1/certificate/self-signed", {"names": names}, token=token)
    assert status == 200, info
    assert info["names"] == ["mail.example.test", "mx.example.test", "*.example.test"]
    assert info["subject"] == "mail.example.test" and info["self_signed"] is True
    assert info["fingerprint_sha256"] != old
    assert 824 <= info["days_left"] <= 825
    assert (rfc3339(info["not_after"]) - rfc3339(info["not_before"])).days == 825
    assert presented(srv, "pop3s") == info["fingerprint_sha256"] == presented(srv, "smtp")
    # Read back from the handshake itself with openssl: the names and the dates.
    host, port = srv.addr("imaps")
    served = openssl_text("s_client", "-connect", f"{host}:{port}", input="")
    text = openssl_text("x509", "-noout", "-ext", "subjectAltName", "-enddate", input=served)
    for n in ("DNS:mail.example.test", "DNS:mx.example.test", "DNS:*.example.test"):
        assert n in text, text
    # Without a body: the host name and localhost.
    status, info = call(srv, "POST", "/api/v1/certificate/self-signed", token=token)
    assert status == 200, info
    assert info["names"] == [HOSTNAME, "localhost"] and info["subject"] == HOSTNAME
    status, info = call(srv, "POST", "/api/v1/certificate/self-signed", {}, token=token)
    assert status == 200 and info["names"] == [HOSTNAME, "localhost"]
    current = info["fingerprint_sha256"]
    # Refused names.
    for body, words in [({"names": ["not a name"]}, "is not a DNS name"),
                        ({"names": ["192.0.2.7"]}, "IP address"),
                        ({"names": []}, "at least one name"),
                        ({"names": [f"h{i}.example.test" for i in range(21)]}, "at most 20")]:
        status, err = call(srv, "POST", "/api/v1/certificate/self-signed", body, token=token)
        assert status == 422 and words in err["error"], (body, err)
    status, err = call(srv, "POST", "/api/v1/certificate/self-signed", {"names": "x"}, token=token)
    assert status == 422
    assert presented(srv, "imaps") == current


def test_status_and_warnings_follow_the_certificate(fresh_server, certs):
    srv = fresh_server
    token = token_of(srv)
    _, st = call(srv, "GET", "/api/v1/status", token=token)
    assert not any("certificate" in w for w in st["warnings"]), st["warnings"]
    events = EventStream(srv)
    try:
        cert_pem, key_pem = certs.self_signed("short.example.test", days=5)
        status, info = put_cert(srv, cert_pem, key_pem)
        assert status == 200, info
        # The change is announced, and the watcher warns at once about this certificate.
        ev = events.wait(lambda name, ev: name == "status" and ev["fields"].get("change") == "certificate")
        assert ev["fields"]["fingerprint"] == info["fingerprint_sha256"]
        ev = events.wait(notification("cert_expiring"), timeout=5)
        assert ev["fields"]["days"] in (4, 5), ev
        _, st = call(srv, "GET", "/api/v1/status", token=token)
        assert rfc3339(st["certificate_expires_at"]) == rfc3339(info["not_after"])
        assert any("certificate" in w for w in st["warnings"]), st["warnings"]
        # A good certificate: the warning goes.
        status, info = call(srv, "POST", "/api/v1/certificate/self-signed", token=token)
        assert status == 200
        _, st = call(srv, "GET", "/api/v1/status", token=token)
        assert rfc3339(st["certificate_expires_at"]) == rfc3339(info["not_after"])
        assert not any("certificate" in w for w in st["warnings"]), st["warnings"]
        # Another short one is announced again (a new certificate is news).
        cert_pem, key_pem = certs.self_signed("short2.example.test", days=3)
        assert put_cert(srv, cert_pem, key_pem)[0] == 200
        ev = events.wait(notification("cert_expiring"), timeout=5)
        assert ev["fields"]["days"] in (2, 3), ev
    finally:
        events.close()


def test_cli_against_the_running_server(srv, certs, tmp_path):
    pid = srv.proc.pid
    info = get_cert(srv)
    out = srv.cli("cert", "show").stdout
    assert info["fingerprint_sha256"] in out and info["subject"] in out and "days left" in out
    assert json.loads(srv.cli("cert", "show", "--json").stdout)["fingerprint_sha256"] == info["fingerprint_sha256"]

    cert_pem, key_pem = certs.self_signed("cli.example.test")
    (tmp_path / "fullchain.pem").write_text(cert_pem)
    (tmp_path / "privkey.pem").write_text(key_pem)
    res = srv.cli("cert", "import", "--cert", str(tmp_path / "fullchain.pem"), "--key", str(tmp_path / "privkey.pem"))
    assert "New connections use it" in res.stdout and pem_fingerprint(cert_pem) in res.stdout, res.stdout
    assert presented(srv, "submissions") == pem_fingerprint(cert_pem) == presented(srv, "imap")
    assert srv.proc.pid == pid

    # Refused: exit status 1 and the reason; the certificate stays.
    _, other_key = certs.self_signed("other.example.test")
    (tmp_path / "other.key").write_text(other_key)
    res = srv.cli("cert", "import", "--cert", str(tmp_path / "fullchain.pem"), "--key", str(tmp_path / "other.key"),
                  check=False)
    assert res.returncode == 1 and "The private key does not belong to this certificate." in res.stderr, res
    res = srv.cli("cert", "import", "--cert", str(tmp_path / "missing.pem"), "--key", str(tmp_path / "other.key"),
                  check=False)
    assert res.returncode == 1 and "missing.pem" in res.stderr, res
    assert presented(srv, "smtp") == pem_fingerprint(cert_pem)

    res = srv.cli("cert", "self-signed", "--name", "a.example.test", "--name", "b.example.test")
    fp = get_cert(srv)["fingerprint_sha256"]
    assert fp in res.stdout and "a.example.test, b.example.test" in res.stdout
    assert presented(srv, "pop3") == fp
    res = srv.cli("cert", "self-signed", "--name", "bad_name", check=False)
    assert res.returncode == 1 and "is not a DNS name" in res.stderr
    assert srv.proc.pid == pid


def test_cli_without_a_running_server_writes_for_the_next_start(server_factory, certs, tmp_path):
    srv = server_factory(start=False, settings={"hostname": "offline.example.test"})
    res = srv.cli("cert", "self-signed", "--name", "next.example.test")
    assert "not running" in res.stdout and "next start" in res.stdout, res.stdout
    shown = json.loads(srv.cli("cert", "show", "--json").stdout)
    assert shown["names"] == ["next.example.test"]
    _, other_key = certs.self_signed("x.example.test")
    (tmp_path / "k.pem").write_text(other_key)
    (tmp_path / "c.pem").write_text((srv.data_dir / "tls" / "cert.pem").read_text())
    res = srv.cli("cert", "import", "--cert", str(tmp_path / "c.pem"), "--key", str(tmp_path / "k.pem"), check=False)
    assert res.returncode == 1 and "does not belong" in res.stderr
    srv.start()
    assert presented(srv, "imaps") == shown["fingerprint_sha256"] == get_cert(srv)["fingerprint_sha256"]
