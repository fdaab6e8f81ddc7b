"""The CLI on a real terminal: a pseudo-terminal of a known width as its stderr.

What a shell user sees: one status line redrawn in place that never wraps (a wrapped
line cannot be redrawn with a carriage return), the summary after it on a clean line,
and Ctrl-C typed at the terminal ending the run with exit code 130 and one message.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux ptys")

COLUMNS = 50
TIMEOUT = 120


@contextmanager
def served_maven(latency: float) -> Iterator[list[str]]:
    """``python -m stagekit.testing serve maven``: the explore command it prints, split."""
    server = subprocess.Popen(
        [sys.executable, "-m", "stagekit.testing", "serve", "maven", "--latency", str(latency)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline() for _ in range(4)]
        command = lines[3].split()
        assert command[:3] == ["stagekit", "explore", "maven"], lines
        yield command[1:]
    finally:
        server.terminate()
        server.communicate(timeout=30)


class Terminal:
    """A command whose stdin and stderr are a pty of `COLUMNS` columns; stdout a pipe."""

    def __init__(self, argv: list[str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, COLUMNS, 0, 0))

        def controlling_terminal() -> None:  # Ctrl-C typed on the pty reaches the command
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        env = {**os.environ, "COLUMNS": "", "LINES": ""}  # the width comes from the pty
        self.process = subprocess.Popen(argv, stdin=slave, stdout=subprocess.PIPE,
                                        stderr=slave, env=env,
                                        preexec_fn=controlling_terminal)
        os.close(slave)
        self.master = master
        self.raw = bytearray()
        self._grew = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: every holder of the slave side closed it
                chunk = b""
            with self._grew:
                self.raw += chunk
                self._grew.notify_all()
            if not chunk:
                return

    def wait_for(self, pattern: bytes) -> None:
        """Block until ``pattern`` (a regex) appears in what the terminal received."""
        with self._grew:
            found = self._grew.wait_for(
                lambda: re.search(pattern, self.raw) or not self._reader.is_alive(),
                timeout=TIMEOUT)
        assert found and re.search(pattern, self.raw), bytes(self.raw)

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def finish(self) -> tuple[int, str, str]:
        """Exit code, stdout, and what the terminal received (decoded)."""
        assert self.process.stdout is not None
        out = self.process.stdout.read().decode()
        code = self.process.wait(timeout=TIMEOUT)
        self._reader.join(timeout=TIMEOUT)
        os.close(self.master)
        return code, out, self.raw.decode()


def drawn_segments(screen: str) -> list[str]:
    """Each piece of text the terminal drew from column 0 (split at CR and LF)."""
    return [part for part in re.split(r"\r\n|\r|\n", screen) if part]


def visible_lines(screen: str) -> list[str]:
    """The lines left on the terminal: a CR returns to column 0 and overwrites."""
    lines = []
    for line in screen.replace("\r\n", "\n").split("\n"):
        shown = ""
        for part in line.split("\r"):
            shown = part + shown[len(part):]
        lines.append(shown.rstrip())
    return [line for line in lines if line]


@pytest.mark.timeout(TIMEOUT * 2)
def test_progress_on_a_terminal_is_one_line_redrawn_within_its_width(tmp_path: Path) -> None:
    with served_maven(latency=0.05) as command:
        term = Terminal([sys.executable, "-m", "stagekit.cli", *command, "--metadata-only",
                         "--store", str(tmp_path / "store")])
        code, out, screen = term.finish()
    assert code == 0, screen
    redraws = [part for part in drawn_segments(screen) if " found, " in part]
    assert len(redraws) >= 2, screen  # the run takes seconds: the line was redrawn
    assert all(len(part) <= COLUMNS - 1 for part in drawn_segments(screen)), screen
    assert "exploring: " not in screen and "done: " not in screen  # the log format is for files
    shown = visible_lines(screen)
    assert len(shown) == 1 and " found, " in shown[0], shown  # the final count stays
    assert screen.endswith("\n")
    found = int(re.search(r"(\d+) found", shown[0])[1].replace(",", ""))  # type: ignore[index]
    assert re.search(rf"^{found} units, ", out, re.M), out  # the summary agrees


@pytest.mark.timeout(TIMEOUT * 2)
def test_ctrl_c_typed_at_the_terminal_stops_the_run_with_130_and_one_message(
        tmp_path: Path) -> None:
    store = tmp_path / "store"
    with served_maven(latency=0.3) as command:
        term = Terminal([sys.executable, "-m", "stagekit.cli", *command, "--metadata-only",
                         "--store", str(store)])
        term.wait_for(rb"\r[^\r\n]* found, ")  # the status line is up: the run is going
        term.type(b"\x03")
        code, out, screen = term.finish()
    assert code == 130, screen
    assert "Traceback" not in screen and out == ""
    shown = visible_lines(screen.replace("^C", ""))
    assert shown[-1].startswith("stagekit explore: interrupted: discovery was still running")
    assert all(" found, " in line for line in shown[:-1]), shown
    assert str(store) in screen.replace("\r\n", "").replace("\n", "")
