"""Helpers for driving the real Mailroom desktop app under Xvfb.

A `Display` is a private X server (Xvfb) with what a desktop has around an
app: a session D-Bus, a system tray (trayer, an XEmbed tray) and a
notification daemon (dunst). `WebDriver` speaks the W3C WebDriver protocol to
tauri-driver, which starts the app through WebKitWebDriver and lets the test
read what the app's window shows. The tray is driven like a person would:
xdotool clicks on the icon and keys in its menu.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "desktop" / "artifacts"


def desktop_path() -> Path:
    """The desktop app binary (MAILROOM_DESKTOP, else the debug build)."""
    explicit = os.environ.get("MAILROOM_DESKTOP")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    return target / "debug" / "mailroom-desktop"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, check, timeout: float = 30, every: float = 0.2):
    """Polls `check` until it returns something truthy; fails naming `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


class Display:
    """Xvfb + session bus + tray + notification daemon."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.procs: list[subprocess.Popen] = []
        self.env = dict(os.environ)
        self.bus_pid: int | None = None
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        workdir = self.workdir
        read_fd, write_fd = os.pipe()
        xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                                pass_fds=[write_fd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write_fd)
        self.procs.append(xvfb)
        with os.fdopen(read_fd) as r:
            number = r.readline().strip()
        if not number:
            raise AssertionError("Xvfb did not start")
        self.env["DISPLAY"] = f":{number}"
        runtime = workdir / "xdg-runtime"
        runtime.mkdir(mode=0o700)
        self.env["XDG_RUNTIME_DIR"] = str(runtime)
        self.env["LANG"] = "C.UTF-8"
        self.env["LC_ALL"] = "C.UTF-8"
        bus = subprocess.run(["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
                             capture_output=True, text=True, check=True, env=self.env)
        address, pid = bus.stdout.split()[:2]
        self.bus_pid = int(pid)
        self.env["DBUS_SESSION_BUS_ADDRESS"] = address
        self.spawn(["dunst"], "dunst.log")
        self.start_tray()

    def start_tray(self, again: bool = True) -> None:
        """Starts trayer (an XEmbed system tray) and waits for its panel."""
        tray = self.spawn(["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32",
                           "--transparent", "false", "--tint", "0xdddddd", "--SetDockType", "false"], "trayer.log")
        try:
            wait_for("the tray", lambda: self.window_line(r'"panel": \("panel" "trayer"\)'), timeout=20)
        except AssertionError as e:
            log = (self.workdir / "trayer.log").read_text(errors="replace")
            if again and tray.poll() is not None:
                # trayer sometimes dies at start on a brand-new X server; the
                # tray is test scaffolding, so one more start is fair.
                print(f"trayer ended at start ({tray.returncode}): {log}")
                return self.start_tray(again=False)
            raise AssertionError(f"{e}; trayer exit code {tray.poll()}, its output:\n{log}") from None

    def spawn(self, cmd: list[str], log: str, **kw) -> subprocess.Popen:
        out = open(self.workdir / log, "wb")
        p = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT, **kw)
        self.procs.append(p)
        return p

    def run(self, *cmd: str) -> str:
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=True, timeout=30).stdout

    def window_line(self, pattern: str) -> str | None:
        """The `xwininfo -tree` line of the first window matching `pattern`."""
        for line in self.run("xwininfo", "-root", "-tree").splitlines():
            if re.search(pattern, line):
                return line
        return None

    def tray_icon(self) -> tuple[int, int, int, int] | None:
        """Absolute x, y, width, height of the app's icon inside the tray."""
        line = self.window_line(r"tray-icon tray app mailroom")
        if not line:
            return None
        m = re.search(r"(\d+)x(\d+)\+-?\d+\+-?\d+\s+\+(-?\d+)\+(-?\d+)", line)
        if not m:
            return None
        w, h, x, y = map(int, m.groups())
        return x, y, w, h

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        """The colour of one screen pixel."""
        out = self.run("import", "-window", "root", "-crop", f"1x1+{x}+{y}", "-depth", "8", "txt:-")
        m = re.search(r"\((\d+),(\d+),(\d+)", out.splitlines()[-1])
        assert m, out
        return tuple(int(v) for v in m.groups())  # type: ignore[return-value]

    def tray_colour(self) -> str:
        """running / warning / stopped, read off the status dot of the icon."""
        x, y, w, h = wait_for("the tray icon", self.tray_icon)
        # The dot sits in the lower right quarter of the icon (icons/tray-*.svg).
        r, g, b = self.pixel(x + w * 3 // 4, y + h * 3 // 4)
        if g > 120 and r < 100 and b < 100:
            return "running"
        if r > 200 and 100 < g < 180 and b < 60:
            return "warning"
        if abs(r - 134) < 20 and abs(g - 142) < 20 and abs(b - 150) < 20:  # the grey dot, not the tray
            return "stopped"
        return f"unknown rgb({r},{g},{b})"

    def tray_menu(self, item: int, screenshot: str | None = None) -> None:
        """Opens the tray menu and chooses its `item`-th entry (from 1),
        saving a screenshot of the open menu if asked."""
        x, y, w, h = wait_for("the tray icon", self.tray_icon)
        self.run("xdotool", "mousemove", str(x + w // 2), str(y + h // 2), "click", "3")
        time.sleep(0.7)  # the menu opens under the pointer and takes the keyboard
        if screenshot:
            self.screenshot(screenshot)
        self.run("xdotool", "key", *(["Down"] * item), "Return")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        self.run("import", "-window", "root", str(path))
        return path

    def send_close(self, window_id: int) -> None:
        """Asks the window to close, as a window manager's close button does
        (WM_DELETE_WINDOW)."""
        from Xlib import X, display, protocol
        d = display.Display(self.env["DISPLAY"])
        try:
            w = d.create_resource_object("window", window_id)
            ev = protocol.event.ClientMessage(
                window=w, client_type=d.intern_atom("WM_PROTOCOLS"),
                data=(32, [d.intern_atom("WM_DELETE_WINDOW"), X.CurrentTime, 0, 0, 0]))
            w.send_event(ev, event_mask=X.NoEventMask)
            d.flush()
        finally:
            d.close()

    def close_window(self, window_id: int) -> bool:
        """Asks the window to close and says whether it went away (unmapped)
        within 10 s. GTK drops a close request that arrives while a popup
        menu still holds its grab (the tray menu just used), as it would a
        click on the close button then; so, like a person, ask again once."""
        for _ in range(2):
            self.send_close(window_id)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if not self.is_mapped(window_id):
                    return True
                time.sleep(0.1)
        return False

    def main_window(self) -> int:
        """The X id of the app's main window (title "Mailroom", a top-level window)."""
        for line in self.run("xwininfo", "-root", "-children").splitlines():
            m = re.match(r'\s*(0x[0-9a-f]+) "Mailroom": \("mailroom-desktop"', line)
            if m:
                return int(m.group(1), 16)
        raise AssertionError("no window titled Mailroom")

    def is_mapped(self, window_id: int) -> bool:
        return "IsViewable" in self.run("xwininfo", "-id", str(window_id))

    def notifications_on_screen(self) -> int:
        return int(self.run("dunstctl", "count", "displayed").strip() or 0)

    def notifications(self) -> list[tuple[str, str]]:
        """(summary, body) of every notification dunst has shown (closing
        those still on screen)."""
        self.run("dunstctl", "close-all")
        time.sleep(0.3)
        data = json.loads(self.run("dunstctl", "history"))["data"][0]
        return [(n["summary"]["data"], n["body"]["data"]) for n in data]

    def close(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
        if self.bus_pid:
            try:
                os.kill(self.bus_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def kill_engines_under(path: Path) -> None:
    """Stops every mailroomd whose command line names a data directory
    below `path` (what a failed test may have left running)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"mailroomd") and any(str(path).encode() in a for a in argv):
            try:
                os.kill(int(proc.name), signal.SIGTERM)
            except ProcessLookupError:
                pass


class WebDriver:
    """A W3C WebDriver session with tauri-driver, which starts the app."""

    def __init__(self, display: Display, application: Path, args: list[str]):
        if not shutil.which("tauri-driver"):
            raise AssertionError("tauri-driver is not installed; run scripts/install-test-deps")
        self.port = free_port()
        native = free_port()
        self.driver = display.spawn(["tauri-driver", "--port", str(self.port), "--native-port", str(native),
                                     "--native-driver", "/usr/bin/WebKitWebDriver"], "tauri-driver.log")
        wait_for("tauri-driver", lambda: self._status(), timeout=20)
        caps = {"capabilities": {"alwaysMatch": {"tauri:options": {"application": str(application), "args": args}}}}
        self.session = self._call("POST", "/session", caps, timeout=120)["sessionId"]

    def _status(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            return False

    def _call(self, method: str, path: str, body: dict | None = None, timeout: float = 30):
        data = json.dumps(body if body is not None else {}).encode() if method == "POST" else None
        for attempt in range(3):
            req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=timeout) as r:
                    return json.loads(r.read())["value"]
            except urllib.error.HTTPError as e:
                raise AssertionError(f"WebDriver {method} {path}: {e.code} {e.read()[:500]!r}") from None
            except (ConnectionResetError, http.client.RemoteDisconnected):
                # tauri-driver's proxy now and then drops a kept-alive
                # connection to WebKitWebDriver; the commands used here only
                # read, so asking again is safe.
                if attempt == 2 or path == "/session":
                    raise
                time.sleep(0.2)

    def url(self) -> str:
        return self._call("GET", f"/session/{self.session}/url")

    def script(self, source: str, *args):
        return self._call("POST", f"/session/{self.session}/execute/sync", {"script": source, "args": list(args)})

    def text(self, css: str) -> str | None:
        """The visible text of the first element matching `css`, or None."""
        return self.script("const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", css)

    def click(self, css: str) -> None:
        self.script("document.querySelector(arguments[0]).click();", css)

    def screenshot(self, name: str) -> Path:
        import base64
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        path.write_bytes(base64.b64decode(self._call("GET", f"/session/{self.session}/screenshot")))
        return path

    def close(self) -> None:
        try:
            self._call("DELETE", f"/session/{self.session}", timeout=10)
        except (AssertionError, OSError):
            pass
