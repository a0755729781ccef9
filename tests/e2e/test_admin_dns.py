"""The DNS records each domain needs, and their live check.

`GET /api/v1/domains/{name}/dns` lists the records (no lookups);
`GET /api/v1/domains/{name}/dns/check` looks them up in the test DNS server
(`test_dns`, which the server's `dns_servers` setting points at) and says
record by record whether each is right. `mailroomd dns show|check` print the
same, and `dns check` exits with 1 when a required record is not right.

Every test adds a domain of its own and publishes its records under that
name, so tests never see each other's records.
"""

from __future__ import annotations

import itertools
import json
import time

import pytest

from test_admin_api import call, token_of

HOSTNAME = "mx.dnscheck.test"
HOST_IP = "127.0.0.77"
_names = itertools.count(1)


@pytest.fixture(scope="module")
def server(server_factory, test_dns):
    test_dns.set(HOSTNAME, A=[HOST_IP])
    return server_factory(settings={"hostname": HOSTNAME, "dns_servers": test_dns.address})


def new_domain(srv, tag: str) -> str:
    domain = f"{tag}-{next(_names)}-{time.time_ns() % 10**9}.dnscheck.test"
    srv.cli("domain", "add", domain)
    return domain


def wanted(srv, domain: str) -> dict:
    status, body = call(srv, "GET", f"/api/v1/domains/{domain}/dns", token=token_of(srv))
    assert status == 200, body
    return body


def check(srv, domain: str) -> dict:
    status, body = call(srv, "GET", f"/api/v1/domains/{domain}/dns/check", token=token_of(srv))
    assert status == 200, body
    return body


def by_kind(records: list[dict], kind: str) -> list[dict]:
    return [r for r in records if r["kind"] == kind]


def publish(dns, records: list[dict], skip: set[str] = frozenset()) -> None:
    """Publishes `records` (as the API lists them) in the test DNS server,
    leaving out the kinds in `skip`."""
    by_name: dict[str, dict[str, list]] = {}
    for r in records:
        if r["kind"] in skip or r["kind"] == "host":
            continue
        types = by_name.setdefault(r["name"], {})
        if r["type"] == "MX":
            pref, host = r["value"].split()
            types.setdefault("MX", []).append((int(pref), host))
        elif r["type"] == "TXT":
            types.setdefault("TXT", []).append(r["value"])
        elif r["type"] == "CNAME":
            types.setdefault("CNAME", []).append(r["value"])
        elif r["type"] == "SRV":
            prio, weight, port, target = r["value"].split()
            types.setdefault("SRV", []).append((int(prio), int(weight), int(port), target))
    for name, types in by_name.items():
        dns.set(name, **types)


def statuses(result: dict) -> dict[str, str]:
    return {f"{r['kind']} {r['name']}": r["status"] for r in result["records"]}


def test_records_listed_without_lookups(server, test_dns):
    domain = new_domain(server, "list")
    before = len(test_dns.queries)
    body = wanted(server, domain)
    assert len(test_dns.queries) == before, "listing the records asked DNS"
    assert body["domain"] == domain and body["hostname"] == HOSTNAME
    recs = body["records"]
    for r in recs:
        assert set(r) == {"kind", "type", "name", "value", "purpose", "required"}, r
        assert r["purpose"].endswith("."), r
    (mx,) = by_kind(recs, "mx")
    assert (mx["type"], mx["name"], mx["value"], mx["required"]) == ("MX", domain, f"10 {HOSTNAME}.", True)
    assert f"deliver mail for {domain}" in mx["purpose"]
    (host,) = by_kind(recs, "host")
    assert (host["type"], host["name"], host["required"]) == ("A", HOSTNAME, True)
    (spf,) = by_kind(recs, "spf")
    assert (spf["type"], spf["name"], spf["value"]) == ("TXT", domain, "v=spf1 mx -all")
    (dmarc,) = by_kind(recs, "dmarc")
    assert dmarc["name"] == f"_dmarc.{domain}"
    assert dmarc["value"] == f"v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}"
    (auto,) = by_kind(recs, "autoconfig")
    assert (auto["type"], auto["name"], auto["value"], auto["required"]) == (
        "CNAME", f"autoconfig.{domain}", f"{HOSTNAME}.", False)
    srv = {r["name"]: r["value"] for r in by_kind(recs, "srv")}
    assert srv == {
        f"_submissions._tcp.{domain}": f"0 1 465 {HOSTNAME}.",
        f"_imaps._tcp.{domain}": f"0 1 993 {HOSTNAME}.",
        f"_pop3s._tcp.{domain}": f"0 1 995 {HOSTNAME}.",
    }
    assert all(not r["required"] for r in by_kind(recs, "srv"))
    # The DKIM records are the ones `dkim show` prints (an RSA and an Ed25519 key).
    shown = json.loads(server.cli("dkim", "show", domain, "--json").stdout)
    dkim = {r["name"]: r["value"] for r in by_kind(recs, "dkim")}
    assert dkim == {s["name"]: s["value"] for s in shown}
    assert len(dkim) == 2 and all(r["required"] for r in by_kind(recs, "dkim"))


def test_everything_published_is_ok(server, test_dns):
    domain = new_domain(server, "good")
    publish(test_dns, wanted(server, domain)["records"])
    result = check(server, domain)
    assert result["ok"] is True, result
    assert set(statuses(result).values()) == {"ok"}, statuses(result)
    for r in result["records"]:
        assert r["detail"] and r["found"], r
    (mx,) = by_kind(result["records"], "mx")
    assert mx["found"] == [f"10 {HOSTNAME}."]
    (host,) = by_kind(result["records"], "host")
    assert host["found"] == [HOST_IP]
    (auto,) = by_kind(result["records"], "autoconfig")
    assert f"{HOSTNAME}." in auto["found"] and HOST_IP in auto["found"]


def test_missing_mx(server, test_dns):
    domain = new_domain(server, "nomx")
    publish(test_dns, wanted(server, domain)["records"], skip={"mx"})
    result = check(server, domain)
    assert result["ok"] is False
    (mx,) = by_kind(result["records"], "mx")
    assert mx["status"] == "missing", mx
    assert mx["found"] == []
    assert mx["detail"].startswith(f"No MX record is published for {domain}"), mx["detail"]
    # Everything else is still right.
    others = {k: v for k, v in statuses(result).items() if not k.startswith("mx ")}
    assert set(others.values()) == {"ok"}, others


def test_domain_not_in_dns_at_all(server):
    domain = new_domain(server, "nowhere")
    result = check(server, domain)
    assert result["ok"] is False
    st = statuses(result)
    assert st[f"host {HOSTNAME}"] == "ok"
    assert {v for k, v in st.items() if not k.startswith("host ")} == {"missing"}, st


def test_dkim_with_a_different_key_is_wrong(server, test_dns):
    domain = new_domain(server, "dkim")
    recs = wanted(server, domain)["records"]
    publish(test_dns, recs)
    rsa = next(r for r in by_kind(recs, "dkim") if "k=rsa" in r["value"])
    other = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwrongkeywrongkeywrongkey"
    test_dns.set(rsa["name"], TXT=[other])
    result = check(server, domain)
    assert result["ok"] is False
    bad = next(r for r in result["records"] if r["name"] == rsa["name"])
    assert bad["status"] == "wrong", bad
    assert bad["found"] == [other]
    assert "different key" in bad["detail"]
    # The Ed25519 key is still right.
    ed = next(r for r in result["records"] if r["kind"] == "dkim" and r["name"] != rsa["name"])
    assert ed["status"] == "ok", ed


def test_spf_without_this_server_is_wrong(server, test_dns):
    domain = new_domain(server, "spf")
    recs = wanted(server, domain)["records"]
    publish(test_dns, recs)
    # Keep the MX, replace the SPF record with one that names someone else.
    test_dns.set(domain, MX=[(10, HOSTNAME)], TXT=["v=spf1 ip4:198.51.100.0/24 -all", "site-verification=x"])
    result = check(server, domain)
    assert result["ok"] is False
    (spf,) = by_kind(result["records"], "spf")
    assert spf["status"] == "wrong", spf
    assert spf["found"] == ["v=spf1 ip4:198.51.100.0/24 -all"]
    assert "does not name this server" in spf["detail"] and "mx" in spf["detail"]
    # An SPF record with this server's address is fine too.
    test_dns.set(domain, MX=[(10, HOSTNAME)], TXT=[f"v=spf1 ip4:{HOST_IP} -all"])
    (spf,) = by_kind(check(server, domain)["records"], "spf")
    assert spf["status"] == "ok", spf


def test_autoconfig_as_address_record_and_optional_records(server, test_dns):
    domain = new_domain(server, "auto")
    recs = wanted(server, domain)["records"]
    publish(test_dns, recs, skip={"srv"})
    test_dns.set(f"autoconfig.{domain}", A=[HOST_IP])
    result = check(server, domain)
    (auto,) = by_kind(result["records"], "autoconfig")
    assert auto["status"] == "ok", auto
    assert auto["found"] == [HOST_IP]
    # Optional records do not decide `ok`.
    assert {r["status"] for r in by_kind(result["records"], "srv")} == {"missing"}
    assert result["ok"] is True
    # An address that is not this server's is wrong.
    test_dns.set(f"autoconfig.{domain}", A=["127.0.0.99"])
    (auto,) = by_kind(check(server, domain)["records"], "autoconfig")
    assert auto["status"] == "wrong" and "127.0.0.99" in auto["detail"], auto


def test_unknown_domain_is_404(server):
    for path in ("/api/v1/domains/unknown.dnscheck.test/dns", "/api/v1/domains/unknown.dnscheck.test/dns/check"):
        status, body = call(server, "GET", path, token=token_of(server))
        assert status == 404, body
        assert set(body) == {"error"} and "unknown.dnscheck.test" in body["error"]


def test_needs_credentials(server):
    for path in ("/api/v1/domains/example.test/dns", "/api/v1/domains/example.test/dns/check"):
        for token in (None, "0" * 64):
            status, body = call(server, "GET", path, token=token)
            assert status == 401, (path, token, body)
            assert isinstance(body["error"], str) and body["error"]


def test_cli_show_and_check(server, test_dns):
    domain = new_domain(server, "cli")
    show = server.cli("dns", "show", domain)
    assert f"DNS records to publish for {domain}" in show.stdout
    assert f"10 {HOSTNAME}." in show.stdout and "v=spf1 mx -all" in show.stdout
    assert "_domainkey" in show.stdout and f"_dmarc.{domain}" in show.stdout
    # Before anything is published: exit 1, a plain summary, ASCII status words.
    bad = server.cli("dns", "check", domain, check=False)
    assert bad.returncode == 1, bad
    assert "MISSING" in bad.stdout
    assert f"The domain {domain} does not exist in DNS" in bad.stdout
    assert "not published correctly" in bad.stderr
    assert bad.stdout.isascii()
    # JSON output is the API's check.
    as_json = json.loads(server.cli("dns", "check", domain, "--json", check=False).stdout)
    assert as_json["ok"] is False and as_json["domain"] == domain
    # Once everything is published: exit 0.
    publish(test_dns, wanted(server, domain)["records"])
    good = server.cli("dns", "check", domain)
    assert good.returncode == 0
    assert "All required records are published correctly." in good.stdout
    assert "MISSING" not in good.stdout and "WRONG" not in good.stdout
    unknown = server.cli("dns", "check", "unknown.dnscheck.test", check=False)
    assert unknown.returncode == 1 and "not one of this server's domains" in unknown.stderr


def test_unreachable_dns_server_is_error(server_factory):
    # Nothing listens on this port: every lookup fails, quickly and in plain words.
    srv = server_factory(start=False, settings={"hostname": HOSTNAME, "dns_servers": "127.0.0.1:9"})
    srv.cli("domain", "add", "down.dnscheck.test")
    started = time.monotonic()
    res = srv.cli("dns", "check", "down.dnscheck.test", "--json", check=False)
    elapsed = time.monotonic() - started
    assert res.returncode == 1, res
    result = json.loads(res.stdout)
    assert result["ok"] is False
    assert {r["status"] for r in result["records"]} == {"error"}, result
    for r in result["records"]:
        assert r["detail"].startswith("Could not check"), r
        for leak in ("Query {", "Name(", "NetError", "NoRecords"):
            assert leak not in r["detail"], r["detail"]
    assert elapsed < 20, elapsed
