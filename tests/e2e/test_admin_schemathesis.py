"""schemathesis against the admin API's own OpenAPI description: every
operation is called with generated valid and invalid data (coverage,
fuzzing and stateful phases). No answer may be a server error (5xx), and
every answer must be one the description lists, with the content type and
JSON shape it documents.

The server is a throwaway one: the run creates, changes and deletes
domains, accounts, settings, IP ranges and listeners at random. DNS checks
point at a closed port so they fail fast instead of waiting on the network.
The live event stream is left out: it never ends.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from conftest import require_module


def test_no_server_errors_anywhere_in_the_api(fresh_server):
    require_module("schemathesis")
    st = shutil.which("st") or shutil.which("schemathesis")
    assert st, "the schemathesis command is missing; run scripts/install-test-deps"
    srv = fresh_server
    srv.stop()
    srv.cli("settings", "set", "dns_servers", "127.0.0.1:9")
    srv.start()
    host, port = srv.addr("admin")
    token = (srv.data_dir / "admin.token").read_text().strip()
    res = subprocess.run(
        [st, "run", f"http://{host}:{port}/api/v1/openapi.json",
         "-H", f"Authorization: Bearer {token}",
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                     "response_schema_conformance",
         "--exclude-path", "/api/v1/events",
         "--max-examples", "25", "--workers", "2", "--seed", "20261124",
         "--request-timeout", "30", "--no-color"],
        capture_output=True, text=True, timeout=900)
    out = res.stdout + res.stderr
    summary = re.search(r"(\d+) generated, (\d+) passed", out)
    assert res.returncode == 0 and summary, out[-6000:]
    generated, passed = map(int, summary.groups())
    print(f"schemathesis: {generated} cases, {passed} passed")
    assert generated >= 500 and passed == generated, out[-6000:]
    # Every operation was tested (all but the event stream).
    tested = re.search(r"Tested: (\d+)", out)
    assert tested and int(tested.group(1)) >= 40, out[-3000:]
    # And the server is still up and sane.
    assert srv.proc.poll() is None
    log = srv.log_text()
    assert "panicked" not in log and "admin API request failed" not in log
