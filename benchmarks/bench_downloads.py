"""Download throughput: stagekit's sync stages against a bare aiohttp loop, same files.

A fixture server (``python -m stagekit.testing serve file``, in its own process so client
and server do not share an event loop) serves N files of SIZE bytes and their manifest.
stagekit explores it with `FileRemote` into a fresh `Store`; the bare loop fetches the
manifest and streams every file with the same connection limits, hashing it with sha256
and writing it to a file named by its digest. A third side (bare + fsync, as the store
does for durability) shows what syncing costs, and a fourth (stagekit into a
``Store(durable=False)``) what stagekit's own flushes cost. Results are medians over
--repeats rounds (default 10; the order of the sides alternates), with CPU time per file
(the process, and the event-loop thread alone) measured over the same span as the wall
time. Target: stagekit (durable, the default) >= 0.9x bare.

Every round starts from the same state: one untimed warm-up round per side first
(first-use imports), and after each round its files are removed and the machine's
unwritten data flushed (``sync``) outside the clock, so no side pays for the data an
earlier round left in the page cache (writeback of it slowed later rounds down, and the
store falls back to per-file fsyncs while much unwritten data is about).

    python benchmarks/bench_downloads.py [--quick] [--files N] [--size BYTES] [--repeats N]
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
from _common import Measure, parse_args, report

import stagekit
from stagekit.download import DownloadConfig
from stagekit.remotes.file import FileRemote
from stagekit.storage import Store

TARGET = ">= 0.9"
MB = 1_000_000


@dataclass(slots=True)
class Sample:
    """One round of one side: wall seconds, process and event-loop-thread CPU seconds."""

    wall: float
    cpu: float
    loop_cpu: float


class Clock:
    """Wall, process CPU and this thread's CPU time from `start` to `stop`."""

    def start(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        self._thread = time.thread_time()

    def stop(self) -> Sample:
        return Sample(time.perf_counter() - self._wall, time.process_time() - self._cpu,
                      time.thread_time() - self._thread)


def dirty_mb() -> float | None:
    """The machine's unwritten page-cache data (Dirty + Writeback), in MB."""
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    kb = 0
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("Dirty", "Writeback"):
            kb += int(value.split()[0])
    return kb * 1024 / MB


def settle(work: Path) -> float:
    """Remove a round's files and flush what is unwritten; seconds the flush took."""
    shutil.rmtree(work, ignore_errors=True)
    start = time.perf_counter()
    os.sync()
    return time.perf_counter() - start


@contextlib.contextmanager
def fixture_server(files: int, size: int, seed: int = 0, timeout: float = 60.0
                   ) -> Iterator[str]:
    """Serve a generated file repo in a subprocess; yields the manifest URL."""
    cmd = [sys.executable, "-m", "stagekit.testing", "serve", "file",
           "--files", str(files), "--size", str(size), "--seed", str(seed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    killer = threading.Timer(timeout, proc.kill)  # a server that never prints must not hang us
    killer.start()
    try:
        assert proc.stdout is not None
        # "serving a generated file repository at URL", then "roots: MANIFEST_URL"
        base = proc.stdout.readline().strip()
        entry = proc.stdout.readline().strip().removeprefix("roots: ")
        killer.cancel()
        if not entry.startswith("http"):
            raise RuntimeError(f"fixture server did not start (got {base!r}, {entry!r})")
        yield entry
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


# -- stagekit ---------------------------------------------------------------------------


async def stagekit_once(manifest_url: str, work: Path, config: DownloadConfig,
                        expected_files: int, durable: bool = True) -> Sample:
    """`stagekit.explore` of the file remote into a fresh store (opened and closed
    outside the clock)."""
    store = Store(work / "store", durable=durable)
    clock = Clock()
    try:
        clock.start()
        run = await stagekit.explore(FileRemote(manifest_url), store=store,
                                     download_config=config)
        elapsed = clock.stop()
        statuses = run.stats["statuses"]
        if statuses.get("downloaded") != expected_files:
            raise AssertionError(f"stagekit run ended with {statuses}, errors {run.errors[:3]}")
    finally:
        store.close()
    return elapsed


# -- bare aiohttp -----------------------------------------------------------------------


async def _fetch(session: aiohttp.ClientSession, url: str, sha256: str, size: int,
                 dest: Path, chunk_size: int, fsync: bool) -> int:
    hasher = hashlib.sha256()
    part = dest / f"{sha256}.part"
    got = 0
    async with session.get(url) as response:
        response.raise_for_status()
        # Blocking writes on the loop, as a straightforward client does (64 KiB is quick).
        with open(part, "wb") as f:  # noqa: ASYNC230
            async for chunk in response.content.iter_chunked(chunk_size):
                hasher.update(chunk)
                f.write(chunk)
                got += len(chunk)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
    if got != size or hasher.hexdigest() != sha256:
        part.unlink()
        raise AssertionError(f"{url}: {got} bytes, sha256 {hasher.hexdigest()}")
    os.replace(part, dest / sha256)
    return got


async def bare_once(manifest_url: str, work: Path, config: DownloadConfig,
                    expected_files: int, fsync: bool = False) -> Sample:
    """A plain aiohttp client fetching the manifest and every file in it."""
    dest = work / "bare"
    dest.mkdir()
    clock = Clock()
    clock.start()
    connector = aiohttp.TCPConnector(limit=config.total, limit_per_host=config.per_host)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=config.connect_timeout,
                                    sock_read=config.read_timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                     auto_decompress=False) as session:
        async with session.get(manifest_url) as response:
            response.raise_for_status()
            manifest = await response.text()
        base = urljoin(manifest_url, ".")
        jobs = []
        for line in manifest.splitlines():
            if not line.strip():
                continue
            path, sha256, size = line.split(",")
            jobs.append(_fetch(session, urljoin(base, quote(path)), sha256, int(size), dest,
                               config.chunk_size, fsync))
        sizes = await asyncio.gather(*jobs)
    elapsed = clock.stop()
    if len(sizes) != expected_files:
        raise AssertionError(f"bare loop fetched {len(sizes)} of {expected_files} files")
    return elapsed


# -- measuring --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the comparison, print the table, write ``results/downloads.json``."""

    def extra(parser: Any) -> None:
        parser.add_argument("--files", type=int, default=None)
        parser.add_argument("--size", type=int, default=64 * 1024)
        parser.add_argument("--no-fsync-side", action="store_true",
                            help="skip the bare + fsync side")
        parser.add_argument("--no-durable-side", action="store_true",
                            help="skip the stagekit Store(durable=False) side")

    args = parse_args(__doc__.splitlines()[0], argv, extra)
    files = args.files or (40 if args.quick else 2000)
    repeats = args.repeats or (1 if args.quick else 10)
    config = DownloadConfig()
    total_mb = files * args.size / MB
    sides: dict[str, Any] = {
        "stagekit": lambda url, w: stagekit_once(url, w, config, files),
        "bare": lambda url, w: bare_once(url, w, config, files),
    }
    if not args.no_fsync_side:
        sides["bare_fsync"] = lambda url, w: bare_once(url, w, config, files, fsync=True)
    if not args.no_durable_side:
        sides["stagekit_not_durable"] = lambda url, w: stagekit_once(url, w, config, files,
                                                                     durable=False)
    rounds: dict[str, list[Sample]] = {name: [] for name in sides}
    dirty_before: list[float | None] = []
    settle_seconds: list[float] = []
    with fixture_server(files, args.size) as manifest_url:
        for i in range(-1 if repeats > 1 else 0, repeats):
            names = list(sides) if i % 2 == 0 else list(reversed(sides))
            for name in names:
                work = Path(tempfile.mkdtemp(prefix=f"stagekit-bench-{name}-"))
                try:
                    gc.collect()
                    dirty = dirty_mb()
                    sample = asyncio.run(sides[name](manifest_url, work))
                finally:
                    settled = settle(work)
                if i < 0:
                    continue  # the warm-up round
                rounds[name].append(sample)
                dirty_before.append(dirty)
                settle_seconds.append(settled)
    samples = {name: [r.wall for r in rs] for name, rs in rounds.items()}
    cpu = {name: [r.cpu for r in rs] for name, rs in rounds.items()}
    loop_cpu = {name: [r.loop_cpu for r in rs] for name, rs in rounds.items()}
    median = {name: statistics.median(s) for name, s in samples.items()}
    cpu_median = {name: statistics.median(s) for name, s in cpu.items()}
    loop_median = {name: statistics.median(s) for name, s in loop_cpu.items()}
    mbps = {name: total_mb / t for name, t in median.items()}
    fps = {name: files / t for name, t in median.items()}
    pair_ratios = [b / s for s, b in zip(samples["stagekit"], samples["bare"], strict=True)]
    pair_median = statistics.median(pair_ratios)
    label = f"downloads: {files:,} x {args.size // 1024} KiB"
    measures = [
        Measure(f"{label}, median of per-pair ratios (vs bare aiohttp)", pair_median, "x",
                baseline=1.0, target=TARGET,
                notes=f"{repeats} pairs, bare seconds / stagekit seconds of each pair"),
        Measure(f"{label} (vs bare aiohttp)", mbps["stagekit"], "MB/s", baseline=mbps["bare"],
                notes=f"median of {repeats} rounds each",
                extra={"files_per_s": fps["stagekit"], "bare_files_per_s": fps["bare"],
                       "median_pair_ratio": pair_median}),
        Measure(f"{label}, CPU per file (vs bare aiohttp)",
                cpu_median["stagekit"] / files * 1e6, "us",
                baseline=cpu_median["bare"] / files * 1e6,
                notes=f"median of {repeats}; process CPU time (server is another process)"),
        Measure(f"{label}, event-loop thread CPU per file (vs bare aiohttp)",
                loop_median["stagekit"] / files * 1e6, "us",
                baseline=loop_median["bare"] / files * 1e6,
                notes=f"median of {repeats}; the thread running the loop"),
    ]
    if "bare_fsync" in mbps:
        measures.append(Measure(
            f"{label} (vs bare + fsync, info)", mbps["stagekit"], "MB/s",
            baseline=mbps["bare_fsync"], notes="the store fsyncs each file and directory",
            extra={"files_per_s": fps["stagekit"], "bare_files_per_s": fps["bare_fsync"]}))
    if "stagekit_not_durable" in mbps:
        measures.append(Measure(
            f"{label}, Store(durable=False) (vs bare aiohttp, info)",
            mbps["stagekit_not_durable"], "MB/s", baseline=mbps["bare"],
            notes="no syncfs/fsync: atomic renames only",
            extra={"cpu_us_per_file": cpu_median["stagekit_not_durable"] / files * 1e6}))
    details = {
        "files": files, "size": args.size, "repeats": repeats,
        "per_host": config.per_host, "total": config.total, "chunk_size": config.chunk_size,
        "seconds": samples, "cpu_seconds": cpu, "loop_cpu_seconds": loop_cpu,
        "mb_per_s": mbps, "files_per_s": fps, "pair_ratios": pair_ratios,
        "dirty_mb_before_each_round": dirty_before, "settle_seconds": settle_seconds,
    }
    report("downloads", args, measures, details)
    for name in samples:
        print(f"{name:>10}: {mbps[name]:8.1f} MB/s  {fps[name]:8.1f} files/s  "
              f"CPU {cpu_median[name] / files * 1e6:,.0f} us/file "
              f"(loop thread {loop_median[name] / files * 1e6:,.0f})  "
              f"(median {median[name]:.2f} s of {[round(s, 2) for s in samples[name]]})")
    print(f"per-pair ratios: {[round(r, 2) for r in pair_ratios]}; flushes between rounds "
          f"took {min(settle_seconds):.2f}-{max(settle_seconds):.2f} s (outside the clock)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
