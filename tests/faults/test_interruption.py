"""Interruption: run.cancel() and Ctrl-C stop a run within a second; a run killed with
SIGKILL leaves no partial file under a digest path, a catalog that opens and is
consistent, and the next run fetches only what the killed one did not finish."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

import stagekit
from stagekit.download import DownloadConfig
from stagekit.events import UnitDiscovered
from stagekit.remotes.file import FileRemote
from stagekit.storage import Store
from stagekit.testing import Faults, FileRepo, serve
from stagekit.testing.file import manifest_line
from stagekit.testing.repo import Expected, ExpectedArtifact, ExpectedUnit, StaticFile
from tests.faults.support import (
    FAST,
    TIMEOUT,
    ListRemote,
    TreeRemote,
    assert_store_sound,
    blob_builder,
    blob_repo,
    body_for,
    key,
    statuses,
    stored_files,
    trickle,
)

pytestmark = pytest.mark.timeout(90)

ROOT = Path(__file__).resolve().parents[2]
SMALL = 8 * 1024
BIG = 1024 * 1024  # half of it is more than one write batch: bytes reach the disk


def temp_files(store_path: Path) -> list[Path]:
    return [p for p in (store_path / "tmp").rglob("*") if p.is_file() and p.suffix != ".lock"]


@pytest.mark.filterwarnings("error")
async def test_cancel_mid_download_stops_within_a_second_and_leaves_no_partial_file(tmp_path):
    fast = [f"fast{i:02d}" for i in range(60)]
    slow = [f"slow{i:02d}" for i in range(20)]
    repo, digests = blob_repo(fast, size=SMALL)
    slow_repo, slow_digests = blob_repo(slow, size=BIG)
    repo.files.update(slow_repo.files)
    digests.update(slow_digests)
    store = Store(tmp_path / "store")
    async with serve(repo, faults=Faults()) as server:
        server.faults.add(trickle(0.6, path="blobs/slow*"))
        run = stagekit.start(ListRemote(fast + slow, blob_builder(server.url_for, digests)),
                             store=store, download_config=FAST)
        async with asyncio.timeout(TIMEOUT):
            await server.counters.wait_until(
                lambda c: c.faults_applied["trickle"] == 10 and c.statuses[200] == 60
            )
        started = time.monotonic()
        assert run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        stopped = time.monotonic() - started
        async with asyncio.timeout(5):
            await server.counters.wait_until(lambda c: c.in_flight == 0)
    assert stopped < 1.0, stopped
    assert run.status == "cancelled" and run.done
    assert not run.cancel()  # already over
    # What is left in tmp/ (downloads a batch still held, see test_batching) is whole and
    # verified: the cut downloads were removed.
    fast_digests = {digests[n] for n in fast}
    for path in temp_files(store.path):
        assert hashlib.sha256(path.read_bytes()).hexdigest() in fast_digests, path
    assert_store_sound(store)
    assert store.runs()[-1]["status"] == "cancelled"
    assert not set(stored_files(store)) & {digests[n] for n in slow}


@pytest.mark.filterwarnings("error")
async def test_rerun_after_cancel_fetches_only_what_is_missing(tmp_path):
    names = [f"fast{i}" for i in range(8)] + [f"slow{i}" for i in range(8)]
    repo, digests = blob_repo(names, size=BIG)
    store = Store(tmp_path / "store")
    async with serve(repo, faults=Faults()) as server:
        rule = server.faults.add(trickle(0.5, path="blobs/slow*"))
        build = blob_builder(server.url_for, digests)
        run = stagekit.start(ListRemote(names, build), store=store, download_config=FAST)
        async with asyncio.timeout(TIMEOUT):
            await server.counters.wait_until(
                lambda c: c.faults_applied["trickle"] == 8 and c.statuses[200] == 8
            )
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        held = set(stored_files(store))
        server.faults.remove(rule)
        server.counters.reset()
        async with asyncio.timeout(TIMEOUT):
            second = await stagekit.explore(ListRemote(names, build), store=store,
                                            download_config=FAST)
        fetched = {p.removeprefix("blobs/") for p in server.counters.by_path}
        assert all(n == 1 for n in server.counters.by_path.values())
    assert fetched == {n for n in names if digests[n] not in held}
    assert fetched >= {f"slow{i}" for i in range(8)}
    assert set(statuses(second).values()) <= {"downloaded", "existing"}
    assert set(stored_files(store)) == set(digests.values())
    assert_store_sound(store)


@pytest.mark.filterwarnings("error")
async def test_cancel_while_discovery_waits_on_plugin_code_stops_at_once(tmp_path):
    never = asyncio.Event()

    async def wait_forever(name):
        if name.startswith("m"):
            await never.wait()

    graph = {"r": [f"m{i}" for i in range(50)]}
    store = Store(tmp_path / "store")
    run = stagekit.Run(TreeRemote(graph, ["r"], lambda name: [], hook=wait_forever),
                       store=store, download_config=FAST)
    waiting = asyncio.Event()
    discovered = 0

    def watch(event):
        nonlocal discovered
        discovered += isinstance(event, UnitDiscovered)
        if discovered == 51 and run.stats["statuses"].get("downloaded", 0) == 51:
            waiting.set()  # every m* unit is saved and its discover() is blocked

    run.events.subscribe(watch)
    run.start()
    async with asyncio.timeout(TIMEOUT):
        await waiting.wait()
    started = time.monotonic()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert time.monotonic() - started < 1.0
    assert run.status == "cancelled"
    assert statuses(run)[key("r")] == "downloaded"
    assert store.runs()[-1]["status"] == "cancelled"


CHILD = textwrap.dedent(
    """
    import asyncio, faulthandler, signal, sys
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # where it is, if it is slow
    import stagekit
    from stagekit.download import DownloadConfig
    from stagekit.events import ArtifactFinished
    from stagekit.remotes.file import FileRemote

    async def main():
        run = stagekit.Run(FileRemote(sys.argv[1]), store=sys.argv[2],
                           download_config=DownloadConfig(read_timeout=60))
        def tell(event):
            if isinstance(event, ArtifactFinished) and event.status == "downloaded":
                print("stored", event.relative_path, flush=True)
        run.events.subscribe(tell)
        print("started", flush=True)
        await run

    if sys.argv[3] == "sync":
        try:
            stagekit.explore_sync(FileRemote(sys.argv[1]), store=sys.argv[2])
        except KeyboardInterrupt:
            print("interrupted: KeyboardInterrupt", file=sys.stderr, flush=True)
            raise
    else:
        asyncio.run(main())
    """
)


async def _start_child(tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env,
    )


CLI_CHILD = textwrap.dedent(
    """
    import faulthandler, runpy, signal
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # where it is, if it is slow
    runpy.run_module("stagekit.cli", run_name="__main__")
    """
)


async def _read_into(stream: asyncio.StreamReader, into: bytearray, marker: bytes | None) -> None:
    """Append what ``stream`` gives to ``into`` until ``marker`` is in it (or the end)."""
    while marker is None or marker not in into:
        chunk = await stream.read(4096)
        if not chunk:
            return
        into += chunk


async def _where(child: asyncio.subprocess.Process, stderr: bytearray) -> str:
    """The child's stderr so far, then the stacks of all its threads (SIGUSR1: faulthandler)."""
    if child.returncode is None:
        child.send_signal(signal.SIGUSR1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await _read_into(child.stderr, stderr, b"most recent call first")
                while True:  # the dump is written at once; stop when it stops coming
                    async with asyncio.timeout(0.5):
                        chunk = await child.stderr.read(65536)
                    if not chunk:
                        break
                    stderr += chunk
    return stderr.decode(errors="replace")[-20000:]


def _kill_repo() -> FileRepo:
    """100 small files, then 20 big ones under slow/ that hang mid-body (see `SLOW`).

    The small ones are listed first and fill two whole ArtifactSaver batches, so they are
    in the store while the big ones hang.
    """
    files, expected, lines = {}, Expected(), []
    for i in range(120):
        path = f"fast/f{i:03d}.bin" if i < 100 else f"slow/s{i:03d}.bin"
        body = body_for(path, SMALL if i < 100 else BIG)
        files[path] = StaticFile(body)
        lines.append(manifest_line(path, body))
        expected.add_unit(ExpectedUnit(f"file:{path}", "file", 0, [ExpectedArtifact(
            path, hashlib.sha256(body).hexdigest(), len(body), path)]))
    files["PULP_MANIFEST"] = StaticFile("".join(f"{line}\n" for line in lines).encode())
    return FileRepo(files, expected, "PULP_MANIFEST")


async def test_sigkill_mid_run_then_same_run_again_fetches_only_the_rest(tmp_path):
    repo = _kill_repo()
    store_path = tmp_path / "store"
    async with serve(repo, faults=Faults()) as server:
        rule = server.faults.add(trickle(0.6, path="slow/*"))
        manifest = server.url_for(repo.entry_path())
        child = await _start_child(tmp_path, str(tmp_path / "child.py"), manifest,
                                   str(store_path), "async")
        stored: set[str] = set()
        try:
            async with asyncio.timeout(TIMEOUT):
                assert (await child.stdout.readline()).strip() == b"started"
                while len(stored) < 100:
                    line = (await child.stdout.readline()).decode()
                    assert line.startswith("stored "), line or await child.stderr.read()
                    stored.add(line.split()[1])
                await server.counters.wait_until(lambda c: c.faults_applied["trickle"] >= 10)
        finally:
            child.kill()  # SIGKILL: no cleanup of any kind
            await child.wait()
        assert child.returncode == -signal.SIGKILL
        partial = [p for p in temp_files(store_path) if 0 < p.stat().st_size < BIG]
        assert partial, "the killed run had no download half written"

        # Nothing partial under a digest path, and the catalog the dead run wrote is sound.
        store = Store(store_path)
        assert temp_files(store_path) == []  # opening removed the dead run's leftovers
        assert_store_sound(store)
        (killed,) = store.runs()
        assert killed["status"] == "interrupted"  # its process died: the next open says so
        held = set(stored_files(store))
        expected = {u.key: u.artifacts[0] for u in repo.expected.units.values()}
        assert {a.sha256 for a in expected.values() if a.relative_path in stored} <= held

        server.faults.remove(rule)
        server.counters.reset()
        async with asyncio.timeout(TIMEOUT):
            second = await stagekit.explore(FileRemote(manifest), store=store,
                                            download_config=FAST)
        requested = dict(server.counters.by_path)
    missing = {a.url_path for a in expected.values() if a.sha256 not in held}
    assert requested == {repo.entry_path(): 1, **dict.fromkeys(missing, 1)}
    assert {f"slow/s{i:03d}.bin" for i in range(100, 120)} <= missing
    assert len(missing) <= 20 + 20  # at most the last, unfinished, fast batch besides
    found = statuses(second)
    assert {k for k, s in found.items() if s == "existing"} >= {f"file:{p}" for p in stored}
    assert set(found.values()) <= {"existing", "downloaded"}
    assert {a.sha256 for a in expected.values()} == set(stored_files(store))
    assert_store_sound(store)
    assert [r["status"] for r in store.runs()] == ["interrupted", "finished"]


@pytest.mark.parametrize("how", ["cli", "explore_sync"])
async def test_ctrl_c_mid_download_stops_within_a_second_and_keeps_the_store_sound(
    tmp_path, how
):
    repo = _kill_repo()
    store_path = tmp_path / "store"
    async with serve(repo, faults=Faults()) as server:
        server.faults.add(trickle(0.6, path="slow/*"))
        manifest = server.url_for(repo.entry_path())
        if how == "cli":
            args = ["-c", CLI_CHILD, "explore", "file", manifest, "--store", str(store_path)]
        else:
            args = [str(tmp_path / "child.py"), manifest, str(store_path), "sync"]
        child = await _start_child(tmp_path, *args)
        stderr = bytearray()
        phase = "running"
        try:
            async with asyncio.timeout(TIMEOUT):
                await server.counters.wait_until(
                    lambda c: c.faults_applied["trickle"] >= 10 and c.statuses[200] >= 101
                )
            started = time.monotonic()
            child.send_signal(signal.SIGINT)
            phase = "stopping"
            async with asyncio.timeout(5):
                await _read_into(child.stderr, stderr, b"interrupted:")
                stopped = time.monotonic() - started
                phase = "exiting"  # the run is over, the process ends
                await _read_into(child.stderr, stderr, None)
                await child.wait()
        except TimeoutError:
            pytest.fail(f"the child was still {phase} 5 s after Ctrl-C; where it was:\n"
                        f"{await _where(child, stderr)}")
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
    text = stderr.decode(errors="replace")
    assert stopped < 1.0, (stopped, text)
    if how == "cli":
        assert child.returncode == 130, text
        assert "interrupted:" in text and "units done" in text
    else:
        assert child.returncode != 0 and "KeyboardInterrupt" in text
    assert "Task was destroyed" not in text and "Unclosed" not in text, text
    with Store(store_path) as store:
        assert_store_sound(store)
        assert store.runs()[-1]["status"] == "cancelled"
        assert set(stored_files(store)) <= {u.artifacts[0].sha256
                                            for u in repo.expected.units.values()}


@pytest.mark.filterwarnings("error")
async def test_timeout_around_explore_stops_the_run_instead_of_orphaning_it(tmp_path):
    """``explore()`` owns its run: when the caller gives up, the run stops too."""
    repo, digests = blob_repo(["hangs", "ok"], size=BIG)
    store = Store(tmp_path / "store")
    async with serve(repo, faults=Faults()) as server:
        server.faults.add(trickle(0.6, path="blobs/hangs"))
        remote = ListRemote(["hangs", "ok"], blob_builder(server.url_for, digests))
        config = DownloadConfig(read_timeout=60)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                await stagekit.explore(remote, store=store, download_config=config)
        orphans = [t for t in asyncio.all_tasks() if t.get_name() == "stagekit-run"]
        assert all(t.done() for t in orphans), orphans
        async with asyncio.timeout(5):
            await server.counters.wait_until(lambda c: c.in_flight == 0)
    assert store.runs()[-1]["status"] == "cancelled"
    assert_store_sound(store)


async def test_finished_units_are_saved_while_another_download_hangs(tmp_path):
    fast = [f"fast{i}" for i in range(10)]
    repo, digests = blob_repo([*fast, "hangs"], size=SMALL)
    store = Store(tmp_path / "store")
    saved = asyncio.Event()
    async with serve(repo, faults=Faults()) as server:
        server.faults.add(trickle(0.5, path="blobs/hangs"))
        run = stagekit.Run(ListRemote(["hangs", *fast], blob_builder(server.url_for, digests)),
                           store=store, download_config=DownloadConfig(read_timeout=60))
        run.events.subscribe(
            lambda _event: run.stats["statuses"].get("downloaded") == 10 and saved.set()
        )
        run.start()
        try:
            async with asyncio.timeout(3):
                await saved.wait()
        finally:
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run
    assert {digests[n] for n in fast} <= set(stored_files(store))
