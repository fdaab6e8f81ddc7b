"""Network faults: every unit ends in the right status with its tries counted, the rest
of the run completes, and nothing is left behind (tasks, sessions, temporary files)."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time

import pytest

import stagekit
from stagekit.download import DownloadConfig
from stagekit.errors import DownloadError, HTTPStatusError
from stagekit.models import DeclarativeArtifact
from stagekit.remotes.file import FileRemote
from stagekit.storage import Store
from stagekit.testing import (
    Faults,
    corrupt,
    make_file_repo,
    rate_limit,
    redirect,
    reset,
    serve,
    stall,
    status,
    truncate,
)
from tests.faults.support import (
    FAST,
    ListRemote,
    blob_builder,
    blob_repo,
    explore,
    key,
    statuses,
    stored_files,
    trickle,
    tries,
)

pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.timeout(60)]

BIG = 64 * 1024  # large enough that a reset or a truncation happens mid-body


def assert_clean(store: Store, no_leftover_tasks) -> None:
    assert list(store.tmp_dir.iterdir()) == []
    no_leftover_tasks()


async def test_5xx_bursts_recover_persistent_5xx_fail_and_the_rest_completes(
    tmp_path, no_leftover_tasks
):
    names = [f"n{i:02d}" for i in range(30)]
    burst, dead = names[:5], names[5:8]
    repo, digests = blob_repo(names)
    store = Store(tmp_path / "store")
    async with serve(repo, faults=Faults()) as server:
        for i, name in enumerate(burst):
            server.faults.add(status(500 if i % 2 else 503, path=f"blobs/{name}", times=2))
        for name in dead:
            server.faults.add(status(500, path=f"blobs/{name}"))
        run = await explore(ListRemote(names, blob_builder(server.url_for, digests)), store)
        counts = {name: server.counters.count(f"blobs/{name}") for name in names}
    expected_tries = {n: 3 if n in burst else FAST.tries if n in dead else 1 for n in names}
    assert counts == expected_tries
    assert tries(run) == expected_tries
    assert statuses(run) == {key(n): "failed" if n in dead else "downloaded" for n in names}
    errors = dict(run.errors)
    for name in dead:
        assert "HTTP 500" in errors[key(name)]
        assert f"blobs/{name}" in errors[key(name)] and "after 4 tries" in errors[key(name)]
    assert run.stats["statuses"] == {"downloaded": 27, "failed": 3}
    assert set(stored_files(store)) == {digests[n] for n in names if n not in dead}
    assert run.status == "finished"
    assert_clean(store, no_leftover_tasks)


async def test_429_retry_after_is_honoured_between_tries(tmp_path, no_leftover_tasks):
    repo, digests = blob_repo(["x", "y"])
    store = Store(tmp_path / "store")
    # The backoff cap also caps Retry-After: leave room for the server's one second.
    config = DownloadConfig(backoff_base=0.01, backoff_max=5.0, read_timeout=2.0)
    async with serve(repo, faults=Faults()) as server:
        server.faults.add(rate_limit(1, path="blobs/x", times=2))
        run = await explore(ListRemote(["x", "y"], blob_builder(server.url_for, digests)),
                            store, config=config)
        times = [r.time for r in server.counters.log if r.path == "blobs/x"]
        codes = [r.status for r in server.counters.log if r.path == "blobs/x"]
    assert codes == [429, 429, 200]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= 0.95 for gap in gaps), gaps
    assert tries(run) == {"x": 3, "y": 1}
    assert statuses(run) == {key("x"): "downloaded", key("y"): "downloaded"}
    assert_clean(store, no_leftover_tasks)


async def test_429_that_never_ends_fails_the_unit_naming_the_status(tmp_path, no_leftover_tasks):
    repo, digests = blob_repo(["x", "y"])
    store = Store(tmp_path / "store")
    async with serve(repo, faults=Faults()) as server:
        server.faults.add(rate_limit(0, path="blobs/x"))
        run = await explore(ListRemote(["x", "y"], blob_builder(server.url_for, digests)), store)
        assert server.counters.count("blobs/x") == FAST.tries
    (unit, error), = run.errors
    assert unit == key("x") and "HTTP 429" in error and "blobs/x" in error
    assert statuses(run)[key("y")] == "downloaded"
    assert_clean(store, no_leftover_tasks)


@pytest.mark.parametrize("fault", [reset, truncate], ids=["reset", "truncate"])
async def test_cut_bodies_are_retried_and_never_stored_partly(tmp_path, fault, no_leftover_tasks):
    names = ["once", "always", "fine"]
    repo, digests = blob_repo(names, size=BIG)
    store = Store(tmp_path / "store")
    async with serve(repo, faults=Faults()) as server:
        server.faults.add(fault(0.5, path="blobs/once", times=1))
        server.faults.add(fault(0.5, path="blobs/always"))
        run = await explore(ListRemote(names, blob_builder(server.url_for, digests)), store)
        applied = server.counters.faults_applied[fault.__name__]
    assert applied == 1 + FAST.tries
    assert tries(run) == {"once": 2, "always": FAST.tries, "fine": 1}
    assert statuses(run) == {key("once"): "downloaded", key("always"): "failed",
                             key("fine"): "downloaded"}
    (_, error), = run.errors
    assert "blobs/always" in error and "after 4 tries" in error
    files = stored_files(store)
    assert set(files) == {digests["once"], digests["fine"]}
    assert all(hashlib.sha256(body).hexdigest() == name for name, body in files.items())
    assert_clean(store, no_leftover_tasks)


@pytest.mark.parametrize("fault", [reset, truncate], ids=["reset", "truncate"])
async def test_cut_body_without_declared_digest_is_not_stored(tmp_path, fault, no_leftover_tasks):
    """Nothing to check the bytes against: the Content-Length alone must catch the cut."""
    repo, _ = blob_repo(["nodigest"], size=BIG)
    store = Store(tmp_path / "store")
    async with serve(repo, faults=Faults()) as server:
        server.faults.add(fault(0.5, path="blobs/nodigest"))

        def build(name):
            return [DeclarativeArtifact(server.url_for(f"blobs/{name}"), name)]

        run = await explore(ListRemote(["nodigest"], build), store)
        assert server.counters.count("blobs/nodigest") == FAST.tries
    assert statuses(run) == {key("nodigest"): "failed"}
    assert stored_files(store) == {}
    assert_clean(store, no_leftover_tasks)


async def test_stalls_past_the_read_timeout_are_retried_then_fail(tmp_path, no_leftover_tasks):
    names = ["once", "always", "midbody", "fine"]
    repo, digests = blob_repo(names, size=BIG)
    store = Store(tmp_path / "store")
    config = DownloadConfig(backoff_base=0.01, backoff_max=0.05, read_timeout=0.3)
    async with serve(repo, faults=Faults()) as server:
        server.faults.add(stall(path="blobs/once", times=1))
        server.faults.add(stall(path="blobs/always"))
        server.faults.add(trickle(0.5, path="blobs/midbody", times=2))
        started = time.monotonic()
        run = await explore(ListRemote(names, blob_builder(server.url_for, digests)), store,
                            config=config)
        elapsed = time.monotonic() - started
        await server.counters.wait_until(lambda c: c.in_flight == 0)
    assert tries(run) == {"once": 2, "always": 4, "midbody": 3, "fine": 1}
    assert statuses(run) == {key("once"): "downloaded", key("always"): "failed",
                             key("midbody"): "downloaded", key("fine"): "downloaded"}
    (_, error), = run.errors
    assert "timed out" in error and "blobs/always" in error
    assert elapsed < 4 * 0.3 + 3.0  # four read timeouts and short backoffs, not a hang
    assert digests["always"] not in stored_files(store)
    assert_clean(store, no_leftover_tasks)


async def test_cross_origin_redirect_does_not_forward_credentials(tmp_path, no_leftover_tasks):
    repo, digests = blob_repo(["basic", "bearer"])
    store = Store(tmp_path / "store")
    async with serve(repo, faults=Faults()) as server:
        server.faults.add(redirect(path="blobs/*"))

        def build(name):
            url = server.url_for(f"blobs/{name}")
            if name == "basic":
                url = url.replace("http://", "http://alice:s3cret-pw@", 1)
                return [DeclarativeArtifact(url, name, digests={"sha256": digests[name]})]
            return [DeclarativeArtifact(url, name, digests={"sha256": digests[name]},
                                        extra_data={"headers": {"Authorization":
                                                                "Bearer tok-123"}})]

        run = await explore(ListRemote(["basic", "bearer"], build), store)
        main, other = server.counters, server.other_origin_counters
        schemes = sorted(r.auth_scheme for r in main.log if r.path.startswith("blobs/"))
    assert schemes == ["Basic", "Bearer"]  # the credentials did reach the first origin
    assert other.count("blobs/basic") == 1 and other.count("blobs/bearer") == 1
    assert other.with_authorization == 0
    assert statuses(run) == {key("basic"): "downloaded", key("bearer"): "downloaded"}
    urls = run.artifacts_dataframe()["url"].tolist()
    assert all("s3cret" not in u and "alice" not in u for u in urls)
    assert_clean(store, no_leftover_tasks)


async def test_404_fails_at_once_and_the_rest_completes(tmp_path, no_leftover_tasks):
    names = [f"n{i}" for i in range(10)]
    repo, digests = blob_repo(names)
    del repo.files["blobs/n3"]
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        run = await explore(ListRemote(names, blob_builder(server.url_for, digests)), store)
        assert server.counters.count("blobs/n3") == 1
    (unit, error), = run.errors
    assert unit == key("n3") and "HTTP 404" in error and "blobs/n3" in error
    assert tries(run)["n3"] == 1
    assert run.stats["statuses"] == {"downloaded": 9, "failed": 1}
    assert_clean(store, no_leftover_tasks)


async def test_corrupt_body_fails_with_digest_mismatch_after_one_more_try(
    tmp_path, no_leftover_tasks
):
    repo, digests = blob_repo(["bad", "good"])
    store = Store(tmp_path / "store")
    async with serve(repo, faults=Faults()) as server:
        server.faults.add(corrupt(3, path="blobs/bad"))
        run = await explore(ListRemote(["bad", "good"], blob_builder(server.url_for, digests)),
                            store)
        assert server.counters.count("blobs/bad") == 1 + FAST.digest_retries
    (unit, error), = run.errors
    assert unit == key("bad") and "sha256 mismatch" in error and digests["bad"] in error
    assert set(stored_files(store)) == {digests["good"]}
    assert_clean(store, no_leftover_tasks)


async def test_dead_mirror_falls_back_to_the_next_and_counts_every_try(
    tmp_path, no_leftover_tasks
):
    repo, digests = blob_repo(["m"])
    store = Store(tmp_path / "store")
    async with serve(repo, faults=Faults()) as server:
        server.faults.add(status(503, path="dead/*"))

        def build(name):
            urls = [server.url_for(f"dead/{name}"), server.url_for(f"blobs/{name}")]
            return [DeclarativeArtifact(urls, name, digests={"sha256": digests[name]})]

        run = await explore(ListRemote(["m"], build), store)
        assert server.counters.count("dead/m") == FAST.tries
    assert tries(run) == {"m": FAST.tries + 1}
    assert statuses(run) == {key("m"): "downloaded"}
    assert_clean(store, no_leftover_tasks)


async def test_flaky_manifest_is_retried_and_a_missing_one_fails_the_run_clearly(
    tmp_path, no_leftover_tasks
):
    repo = make_file_repo(8, seed=11)
    store = Store(tmp_path / "store")
    async with serve(repo, faults=Faults()) as server:
        manifest = server.url_for(repo.entry_path())
        server.faults.add(status(503, path=repo.entry_path(), times=2))
        run = await explore(FileRemote(manifest), store)
        assert server.counters.count(repo.entry_path()) == 3
        assert run.stats["statuses"] == {"downloaded": 8}

        missing = server.url_for("nowhere/PULP_MANIFEST")
        failing = stagekit.Run(FileRemote(missing), store=store, download_config=FAST)
        with pytest.raises(HTTPStatusError) as info:
            async with asyncio.timeout(10):
                await failing
    assert info.value.status == 404 and info.value.url == missing
    assert failing.status == "failed"
    assert store.runs()[-1]["status"] == "failed"
    assert_clean(store, no_leftover_tasks)


async def test_many_units_under_mixed_faults_end_downloaded_or_failed_with_counts(
    tmp_path, no_leftover_tasks
):
    names = [f"u{i:03d}" for i in range(300)]
    repo, digests = blob_repo(names, size=8 * 1024)
    store = Store(tmp_path / "store")
    config = DownloadConfig(backoff_base=0.01, backoff_max=0.05, read_timeout=0.5)
    async with serve(repo, faults=Faults(seed=5)) as server:
        server.faults.add(status(404, path="blobs/u00*"))
        for rule in (status(503, rate=0.1), status(500, rate=0.05), reset(rate=0.05),
                     truncate(rate=0.05), stall(rate=0.02), rate_limit(0, rate=0.05)):
            server.faults.add(rule)
        run = await explore(ListRemote(names, blob_builder(server.url_for, digests)), store,
                            config=config)
        counts = {name: server.counters.count(f"blobs/{name}") for name in names}
    found = statuses(run)
    assert len(found) == len(names)
    assert set(found.values()) <= {"downloaded", "failed"}
    errors = dict(run.errors)
    for name in names:
        if found[key(name)] == "failed":
            assert errors[key(name)], name
    assert {n for n in names if found[key(n)] == "failed"} >= {f"u00{i}" for i in range(10)}
    assert tries(run) == counts  # every request the server saw is a counted try
    stats = run.stats["statuses"]
    assert stats["downloaded"] + stats["failed"] == len(names)
    downloaded = {digests[n] for n in names if found[key(n)] == "downloaded"}
    assert set(stored_files(store)) == downloaded
    assert_clean(store, no_leftover_tasks)


async def test_unreachable_host_fails_each_unit_with_the_address(tmp_path, no_leftover_tasks):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    def build(name):
        return [DeclarativeArtifact(f"http://127.0.0.1:{port}/blobs/{name}", name)]

    store = Store(tmp_path / "store")
    run = await explore(ListRemote(["a", "b"], build), store)
    assert run.stats["statuses"] == {"failed": 2}
    for _, error in run.errors:
        assert f"127.0.0.1:{port}" in error and "after 4 tries" in error
    assert_clean(store, no_leftover_tasks)


async def test_download_error_is_a_stagekit_error_with_the_url(tmp_path):
    """The unit's error keeps the download error as its cause, with the URL and tries."""
    repo, digests = blob_repo(["x"])
    del repo.files["blobs/x"]
    store = Store(tmp_path / "store")
    async with serve(repo) as server:
        remote = ListRemote(["x"], blob_builder(server.url_for, digests))
        with pytest.raises(stagekit.UnitFailedError) as info:
            await explore(remote, store, on_error="abort")
    cause = info.value.__cause__
    assert isinstance(cause, DownloadError) and cause.tries == 1
    assert info.value.url == cause.url and cause.url.endswith("blobs/x")
