"""Smoke tests of the real Mailroom desktop app (Tauri, WebKitGTK) under Xvfb.

The app is started by tauri-driver the way a person starts it: no server is
running, so it starts `mailroomd serve` as its child. The tests read what the
window shows through WebDriver, look at the tray icon's colour on the
screen, drive the tray menu with xdotool, read desktop notifications from
the notification daemon, and check the engine's state through its admin API.
Screenshots go to tests/desktop/artifacts.
"""

from __future__ import annotations

import json
import os
import signal
import smtplib
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from desktop import Display, WebDriver, desktop_path, kill_engines_under, wait_for  # noqa: E402
from mailroom import pick_offset, require_binary  # noqa: E402

MAIL_LISTENERS = {"smtp", "submission", "submissions", "pop3", "pop3s", "imap", "imaps"}


class App:
    """One desktop app with its child engine on a private display."""

    def __init__(self, workdir: Path, display: Display, mailroomd: Path):
        self.display = display
        self.data_dir = workdir / "data"
        self.mailroomd = mailroomd
        self.offset = pick_offset()
        self.admin_port = self.offset + 8080
        for args in (["domain", "add", "example.test"],
                     ["account", "add", "alice@example.test", "--password", "alice-secret-1"]):
            subprocess.run([str(mailroomd), "--data-dir", str(self.data_dir), *args], check=True,
                           capture_output=True, timeout=60)
        binary = desktop_path()
        assert binary.is_file(), f"the desktop app is not built at {binary} (cargo build -p mailroom-desktop)"
        self.wd = WebDriver(display, binary, ["--data-dir", str(self.data_dir), "--engine", str(mailroomd), "--",
                                              "--bind", "127.0.0.1", "--port-offset", str(self.offset)])

    def api(self, method: str, path: str, body: dict | None = None):
        token = (self.data_dir / "admin.token").read_text().strip()
        req = urllib.request.Request(f"http://127.0.0.1:{self.admin_port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def status(self) -> dict:
        return self.api("GET", "/api/v1/status")

    def engine_pid(self) -> int | None:
        try:
            return json.loads((self.data_dir / "runtime.json").read_text())["pid"]
        except (OSError, ValueError, KeyError):
            return None

    def app_log(self) -> str:
        return (self.display.workdir / "tauri-driver.log").read_text(errors="replace")

    def close(self) -> None:
        self.wd.close()
        pid = self.engine_pid()
        if pid and Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGTERM)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("desktop")
    display = a = None
    try:
        display = Display(workdir)
        a = App(workdir, display, require_binary())
        yield a
    finally:
        if a:
            a.close()
        if display:
            display.close()
        kill_engines_under(workdir)


def running(status: dict) -> dict:
    return {l["name"]: l["running"] for l in status["listeners"] if l["name"] in MAIL_LISTENERS}


def test_window_shows_the_dashboard_connected_to_the_engine(app):
    # The window starts on its own start page, then shows the engine's web interface, logged in.
    wait_for("the window to show the engine's web interface",
             lambda: app.wd.url().startswith(f"http://127.0.0.1:{app.admin_port}/"), timeout=60)
    wait_for("the dashboard's listener table", lambda: app.wd.text('[data-testid="listener-smtp"]'), timeout=30)
    smtp_row = app.wd.text('[data-testid="listener-smtp"]')
    assert f"127.0.0.1:{app.offset + 25}" in smtp_row, smtp_row
    assert "RUNNING" in smtp_row.upper(), smtp_row
    # The live badge turns green once the event stream from the engine is open.
    wait_for("the live indicator", lambda: app.wd.script(
        "const e = document.querySelector('[data-testid=\"live-indicator\"]');"
        "return e && e.innerText.trim().toUpperCase() === 'LIVE';"), timeout=20)
    assert app.wd.text('[data-testid="nav-dashboard"]'), "the navigation is shown"
    # The engine the window shows is the one the app started as its child.
    pid = app.engine_pid()
    assert pid and Path(f"/proc/{pid}").exists()
    assert "connected to the mail server child=true" in app.app_log()
    app.wd.screenshot("desktop-window.png")


def test_tray_icon_exists_and_is_green_when_all_is_well(app):
    wait_for("the tray icon", app.display.tray_icon, timeout=20)
    wait_for("a green tray icon", lambda: app.display.tray_colour() == "running", timeout=10)
    app.display.screenshot("desktop-tray-running.png")


def test_tray_menu_pauses_and_resumes_delivery(app):
    assert app.status()["queue_paused"] is False
    app.display.tray_menu(2, screenshot="desktop-tray-menu.png")  # Pause delivery
    wait_for("delivery to be paused", lambda: app.status()["queue_paused"] is True, timeout=10)
    wait_for("an amber tray icon", lambda: app.display.tray_colour() == "warning", timeout=10)
    app.display.screenshot("desktop-tray-paused.png")
    app.display.tray_menu(2)  # Resume delivery
    wait_for("delivery to resume", lambda: app.status()["queue_paused"] is False, timeout=10)
    wait_for("a green tray icon again", lambda: app.display.tray_colour() == "running", timeout=10)


def test_low_disk_becomes_a_desktop_notification(app):
    before = app.display.notifications()
    app.api("PUT", "/api/v1/settings/disk_low_warning_mb", {"value": "99999999"})
    try:
        wait_for("a notification on the screen", app.display.notifications_on_screen, timeout=15)
        # The window's dashboard and the tray say the same.
        wait_for("the dashboard's warning", lambda: "Disk space" in (app.wd.text('[data-testid="warnings"]') or ""),
                 timeout=10)
        wait_for("an amber tray icon", lambda: app.display.tray_colour() == "warning", timeout=10)
        app.display.screenshot("desktop-notification.png")

        def shown():
            return [n for n in app.display.notifications() if n[0] == "Disk almost full" and n not in before]
        found = wait_for("the low-disk notification", shown, timeout=15, every=1)
        assert "MB left for mail" in found[0][1], found
    finally:
        app.api("PUT", "/api/v1/settings/disk_low_warning_mb", {"value": "1024"})


def test_closing_the_window_hides_it_to_the_tray(app):
    wid = app.display.main_window()
    assert app.display.is_mapped(wid)
    assert app.display.close_window(wid), f"the window did not hide; app log:\n{app.app_log()[-3000:]}"
    # Mail goes on: the engine still takes a message.
    with smtplib.SMTP("127.0.0.1", app.offset + 25, timeout=10) as s:
        assert s.ehlo()[0] == 250
        s.sendmail("someone@remote.test", ["alice@example.test"], b"Subject: still here\r\n\r\nHello\r\n")
    # Starting the app again brings the window of the one running back, and ends.
    again = app.display.spawn([str(desktop_path()), "--data-dir", str(app.data_dir)], "second-instance.log")
    wait_for("the second start to end", lambda: again.poll() is not None, timeout=20)
    assert again.returncode == 0
    wait_for("the window to come back", lambda: app.display.is_mapped(wid), timeout=10)
    assert len(running(app.status())) == 7, "still the one engine"
    assert app.display.close_window(wid), "the window did not hide again"
    app.display.tray_menu(1)  # Open Mailroom
    wait_for("the window to come back", lambda: app.display.is_mapped(wid), timeout=10)


def test_tray_menu_stops_and_starts_the_server(app):
    app.display.tray_menu(3)  # Stop server
    wait_for("every mail listener to stop", lambda: not any(running(app.status()).values()), timeout=15)
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", app.offset + 25, timeout=5)
    wait_for("a grey tray icon", lambda: app.display.tray_colour() == "stopped", timeout=10)
    # The window's dashboard shows it too.
    wait_for("the dashboard to show SMTP stopped",
             lambda: "STOPPED" in (app.wd.text('[data-testid="listener-smtp"]') or "").upper(), timeout=15)
    app.display.screenshot("desktop-tray-stopped.png")
    app.display.tray_menu(3)  # Start server
    wait_for("every mail listener to run again", lambda: all(running(app.status()).values()), timeout=15)
    with smtplib.SMTP("127.0.0.1", app.offset + 25, timeout=10) as s:
        assert s.ehlo()[0] == 250
    wait_for("a green tray icon again", lambda: app.display.tray_colour() == "running", timeout=10)


def test_a_crashed_engine_is_reported_and_started_again_from_the_tray(app):
    pid = app.engine_pid()
    os.kill(pid, signal.SIGKILL)
    wait_for("a grey tray icon", lambda: app.display.tray_colour() == "stopped", timeout=10)
    found = wait_for("the notification", lambda: [n for n in app.display.notifications()
                                                  if n[0] == "The mail server stopped"], timeout=10, every=1)
    assert "Start server" in found[0][1]
    # The window says so instead of showing a page that cannot work any more.
    wait_for("the start page saying the server stopped",
             lambda: "has stopped" in (app.wd.text('[data-testid="splash-message"]') or ""), timeout=10)
    app.display.tray_menu(3)  # Start server
    wait_for("a new engine", lambda: app.engine_pid() not in (None, pid) and Path(f"/proc/{app.engine_pid()}").exists(),
             timeout=30)
    wait_for("a green tray icon again", lambda: app.display.tray_colour() == "running", timeout=20)
    # The window follows the new engine (a new local key, the same address).
    try:
        wait_for("the dashboard again",
                 lambda: "RUNNING" in (app.wd.text('[data-testid="listener-smtp"]') or "").upper(), timeout=30)
    except AssertionError as e:
        raise AssertionError(f"{e}\nurl: {app.wd.url()}\npage: {app.wd.text('body')}\n"
                             f"app log:\n{app.app_log()[-2000:]}") from None
    with smtplib.SMTP("127.0.0.1", app.offset + 25, timeout=10) as s:
        assert s.ehlo()[0] == 250


def test_quit_stops_the_engine_the_app_started(app):
    pid = app.engine_pid()
    assert pid and Path(f"/proc/{pid}").exists()
    app.display.tray_menu(4)  # Quit
    wait_for("the engine to stop", lambda: not Path(f"/proc/{pid}").exists(), timeout=40)
    wait_for("the app to end", lambda: app.display.tray_icon() is None, timeout=20)
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", app.offset + 25, timeout=5)
    assert "the mail server stopped status=exit status: 0" in app.app_log()


def test_attaches_to_a_running_engine_and_leaves_it_running(tmp_path):
    mailroomd = require_binary()
    data = tmp_path / "data"
    offset = pick_offset()
    display = desktop = None
    engine = subprocess.Popen([str(mailroomd), "--data-dir", str(data), "serve", "--bind", "127.0.0.1",
                               "--port-offset", str(offset)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        display = Display(tmp_path)
        wait_for("the engine", lambda: (data / "runtime.json").exists() and (data / "admin.token").exists(), timeout=30)
        time.sleep(0.5)
        desktop = display.spawn([str(desktop_path()), "--data-dir", str(data), "--engine", "/nonexistent/mailroomd"],
                                "app.log")
        log = tmp_path / "app.log"
        wait_for("the app to attach", lambda: "attached to the running mail server" in log.read_text(), timeout=30)
        wait_for("the tray icon", display.tray_icon, timeout=20)
        wait_for("a green tray icon", lambda: display.tray_colour() == "running", timeout=10)
        # The service restarts (with a new key): the app notices and follows it.
        engine.terminate()
        engine.wait(30)
        wait_for("a grey tray icon", lambda: display.tray_colour() == "stopped", timeout=10)
        engine = subprocess.Popen([str(mailroomd), "--data-dir", str(data), "serve", "--bind", "127.0.0.1",
                                   "--port-offset", str(offset)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for("the app to attach again", lambda: "attached again" in log.read_text(), timeout=30)
        wait_for("a green tray icon again", lambda: display.tray_colour() == "running", timeout=10)
        display.tray_menu(4)  # Quit
        wait_for("the app to end", lambda: desktop.poll() is not None, timeout=20)
        assert desktop.returncode == 0
        # The engine is not the app's: it goes on serving.
        assert engine.poll() is None
        with smtplib.SMTP("127.0.0.1", offset + 25, timeout=10) as s:
            assert s.ehlo()[0] == 250
    finally:
        if desktop and desktop.poll() is None:
            desktop.kill()
        engine.terminate()
        try:
            engine.wait(30)
        except subprocess.TimeoutExpired:
            engine.kill()
        if display:
            display.close()
