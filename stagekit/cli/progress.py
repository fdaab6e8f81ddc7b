"""Progress of a run on stderr: counts and rates, never a percentage of an unknown total.

On a terminal one status line is redrawn a few times a second; on a redirected stream a
plain line is written every `LOG_EVERY` seconds (and one at the end), so a log holds tens
of lines, not hundreds of bar updates.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections import Counter
from typing import TextIO

from stagekit.cli.text import human_bytes
from stagekit.events import (
    Event,
    KnownUnitsFinished,
    KnownUnitsFound,
    UnitDiscovered,
    UnitFinished,
)
from stagekit.run import Run

__all__ = ["Progress"]

REDRAW_EVERY = 0.2
LOG_EVERY = 5.0


class Progress:
    """Counts per kind (found, done, failed) fed by the run's events, and their display."""

    def __init__(self, run: Run, stream: TextIO) -> None:
        self.run = run
        self.stream = stream
        self.tty = stream.isatty()
        self.found: Counter[str] = Counter()
        self.done: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self._units: dict[str, tuple[str, str]] = {}  # key -> (kind, status)
        self._width = 0
        self._lines = 0  # lines written so far
        self.unsubscribe = run.events.subscribe(self)

    def __call__(self, event: Event) -> None:
        """Count ``event`` (an `EventBus` subscriber; O(1) per event)."""
        if isinstance(event, UnitDiscovered):
            if event.key not in self._units:
                self._units[event.key] = (event.kind, "discovered")
                self.found[event.kind] += 1
        elif isinstance(event, UnitFinished):
            known = self._units.get(event.key)
            if known is None or known[1] == "failed":
                return  # a unit whose discovery failed stays failed (as in the records)
            kind, before = known
            if before != "discovered":
                self.done[kind] -= 1
            if event.status == "failed":
                self.failed[kind] += 1
            elif event.status != "discovered":
                self.done[kind] += 1
            self._units[event.key] = (kind, event.status)
        elif isinstance(event, KnownUnitsFound):  # a block of units an earlier run found
            self.found[event.block.kind] += len(event.block.keys)
        elif isinstance(event, KnownUnitsFinished):  # never failed, never found twice
            block = event.block
            self.done[block.kind] += sum(n for s, n in block.statuses.items()
                                         if s not in ("failed", "discovered"))

    def line(self) -> str:
        """``12.0 s  1,234 found, 1,100 done (91/s), 2 failed, bytes (rate)  per depth
        1/40/800  kind handled/found (rate), ...``: no percentage, the total is unknown."""
        stats = self.run.stats
        elapsed = max(stats["elapsed"], 1e-9)
        found, done, failed = (sum(c.values()) for c in (self.found, self.done, self.failed))
        depths = "/".join(str(n) for _d, n in sorted(stats["depths"].items())) or "0"
        kinds = ", ".join(
            f"{kind} {self.done[kind] + self.failed[kind]:,}/{n:,} "
            f"({self.done[kind] / elapsed:,.0f}/s)"
            for kind, n in sorted(self.found.items())
        )
        text = (f"{elapsed:6.1f} s  {found:,} found, {done:,} done ({done / elapsed:,.0f}/s), "
                f"{failed:,} failed, {human_bytes(stats['bytes'])} "
                f"({human_bytes(stats['bytes_per_second'])}/s)  per depth {depths}  {kinds}")
        return text

    def show(self, final: bool = False) -> None:
        """Redraw the status line (terminal) or write one line (redirected stream)."""
        text = self.line()
        if self.tty:
            columns = self._columns() - 1  # a line that wraps cannot be redrawn in place
            text = text[:columns]
            self.stream.write("\r" + text.ljust(min(self._width, columns))
                              + ("\n" if final else ""))
            self._width = len(text)
        else:
            self.stream.write(("done: " if final else "exploring: ") + text + "\n")
        self._lines += 1
        self.stream.flush()

    def _columns(self) -> int:
        """The width of the terminal this stream is on (now: it may have been resized)."""
        try:
            return os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError):  # not a real file: a test's stream
            return shutil.get_terminal_size().columns

    async def follow(self) -> None:
        """Show progress until cancelled."""
        every = REDRAW_EVERY if self.tty else LOG_EVERY
        last = time.monotonic()
        while True:
            await asyncio.sleep(every if self.tty else 0.5)
            if time.monotonic() - last >= every:
                last = time.monotonic()
                self.show()

    def close(self, final: bool = True) -> None:
        """Stop counting; write the last line if progress was shown (else the line is noise)."""
        self.unsubscribe()
        if self.tty and self._width and not (final and self._units):
            self.stream.write("\r" + " " * self._width + "\r")  # leave a clean line
            self.stream.flush()
        elif final and (self._width or self._lines):
            self.show(final=True)
