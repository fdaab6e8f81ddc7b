from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from stagekit.errors import StoreError, UnsafePathError
from stagekit.storage import SCHEMA_VERSION, Catalog
from tests.backends import Backend, all_text, count_rows

SHA_A = "a" * 64
SHA_B = "b" * 64


@pytest.fixture
def catalog(backend: Backend, tmp_path: Path):
    with backend.catalog(tmp_path) as c:
        yield c


def _unit(kind: str, *nk: object, **extra: object) -> dict[str, object]:
    return {"kind": kind, "natural_key": nk, **extra}


def test_run_round_trips_through_load_run(catalog: Catalog) -> None:
    run = catalog.start_run("https://repo.test/maven", {"policy": "metadata-only", "max_depth": 3})
    catalog.save_contents(
        run,
        [
            _unit(
                "pom",
                "g",
                "root",
                "1",
                depth=0,
                status="downloaded",
                size=120,
                started_at=100.0,
                finished_at=101.5,
                fields={"packaging": "pom"},
            ),
            _unit("pom", "g", "lib", "2", depth=1, status="deferred", owner="maven"),
            _unit(
                "pom",
                "g",
                "gone",
                "3",
                depth=1,
                status="failed",
                error=RuntimeError("HTTP 404 for https://repo.test/gone.pom"),
            ),
        ],
    )
    catalog.save_artifacts([{"sha256": SHA_A, "size": 120, "digests": {"sha1": "1" * 40}}])
    catalog.save_links(
        [
            {
                "key": "pom:g:root:1",
                "relative_path": "g/root/1/root-1.pom",
                "url": "https://repo.test/root-1.pom",
                "sha256": SHA_A,
                "status": "downloaded",
                "size": 120,
                "tries": 2,
            },
            {
                "kind": "pom",
                "natural_key": ("g", "lib", "2"),
                "relative_path": "lib-2.jar",
                "url": ["https://mirror1.test/lib-2.jar", "https://mirror2.test/lib-2.jar"],
                "sha256": None,
                "status": "deferred",
            },
        ],
        run_id=run,
    )
    catalog.save_edges(
        run,
        [
            ("pom:g:root:1", "pom:g:lib:2", "dependency"),
            {"parent": "pom:g:root:1", "child": "pom:g:gone:3", "relation": None},
        ],
    )
    catalog.finish_run(run, "completed", {"units": 3, "by_depth": {0: 1, 1: 2}})

    records = catalog.load_run(run)
    assert records.run_id == run
    assert records.run["remote"] == "https://repo.test/maven"
    assert records.run["params"] == {"policy": "metadata-only", "max_depth": 3}
    assert records.run["status"] == "completed"
    assert records.run["stats"] == {"units": 3, "by_depth": {"0": 1, "1": 2}}
    assert records.run["units"] == 3
    assert records.run["finished_at"] >= records.run["started_at"]

    by_key = {u["key"]: u for u in records.units}
    assert [u["key"] for u in records.units] == ["pom:g:root:1", "pom:g:lib:2", "pom:g:gone:3"]
    root = by_key["pom:g:root:1"]
    assert root["natural_key"] == ("g", "root", "1")
    assert (root["kind"], root["depth"], root["status"], root["size"]) == (
        "pom",
        0,
        "downloaded",
        120,
    )
    assert (root["started_at"], root["finished_at"]) == (100.0, 101.5)
    assert root["fields"] == {"packaging": "pom"}
    assert by_key["pom:g:lib:2"]["owner"] == "maven"
    assert by_key["pom:g:gone:3"]["error"] == (
        "RuntimeError: HTTP 404 for https://repo.test/gone.pom"
    )

    assert len(records.artifacts) == 2
    stored, deferred = records.artifacts
    assert stored["unit_key"] == "pom:g:root:1"
    assert stored["sha256"] == SHA_A
    assert stored["digests"] == {"sha256": SHA_A, "sha1": "1" * 40}
    assert (stored["size"], stored["status"], stored["tries"]) == (120, "downloaded", 2)
    assert deferred["sha256"] is None
    assert deferred["deferred"] is True
    assert deferred["url"] == "https://mirror1.test/lib-2.jar"

    assert records.edges == [
        {"parent": "pom:g:root:1", "child": "pom:g:lib:2", "relation": "dependency"},
        {"parent": "pom:g:root:1", "child": "pom:g:gone:3", "relation": None},
    ]


def test_runs_are_listed_oldest_first_with_their_status(catalog: Catalog) -> None:
    ids = [catalog.start_run(f"file:///r{i}", {"i": i}) for i in range(3)]
    catalog.finish_run(ids[1], "failed", {"errors": 2})
    runs = catalog.runs()
    assert [r["id"] for r in runs] == sorted(ids)
    assert [r["remote"] for r in runs] == ["file:///r0", "file:///r1", "file:///r2"]
    assert [r["status"] for r in runs] == ["running", "failed", "running"]
    assert runs[1]["stats"] == {"errors": 2}
    assert runs[0]["finished_at"] is None
    assert runs[0]["started_at"] <= runs[1]["started_at"] <= runs[2]["started_at"]


def test_unit_status_is_recorded_per_run(catalog: Catalog) -> None:
    first = catalog.start_run("file:///r", {})
    catalog.save_contents(first, [_unit("deb", "hello", "1.0", status="downloaded", depth=2)])
    second = catalog.start_run("file:///r", {})
    catalog.save_contents(second, [_unit("deb", "hello", "1.0", status="existing", depth=1)])

    assert [(u["status"], u["depth"]) for u in catalog.load_run(first).units] == [("downloaded", 2)]
    assert [(u["status"], u["depth"]) for u in catalog.load_run(second).units] == [("existing", 1)]
    assert count_rows(catalog, "content") == 1


def test_unit_saved_twice_in_a_run_keeps_first_start_and_last_status(catalog: Catalog) -> None:
    run = catalog.start_run("file:///r", {})
    catalog.save_contents(run, [_unit("f", "x", status="discovered", started_at=5.0, depth=3)])
    catalog.save_contents(run, [_unit("f", "x", status="downloaded", finished_at=9.0, depth=1)])
    [unit] = catalog.load_run(run).units
    assert (unit["status"], unit["depth"], unit["started_at"], unit["finished_at"]) == (
        "downloaded",
        1,
        5.0,
        9.0,
    )


def test_existing_contents_requires_stored_non_deferred_artifacts(catalog: Catalog) -> None:
    run = catalog.start_run("file:///r", {})
    catalog.save_batch(
        run,
        contents=[
            _unit("m", "complete", status="downloaded"),
            _unit("m", "lacking", status="downloaded"),
            _unit("m", "meta-only", status="deferred"),
            _unit("m", "broken", status="failed"),
        ],
        artifacts=[{"sha256": SHA_A, "size": 3}],
        links=[
            {"key": "m:complete", "relative_path": "c.txt", "url": "file:///c", "sha256": SHA_A},
            {
                "key": "m:lacking",
                "relative_path": "l.txt",
                "url": "file:///l",
                "sha256": None,
                "status": "failed",
            },
            {
                "key": "m:meta-only",
                "relative_path": "big.iso",
                "url": "file:///b",
                "sha256": None,
                "deferred": True,
            },
        ],
    )
    found = catalog.existing_contents(
        ["m:complete", "m:lacking", ("m", ["meta-only"]), "m:broken", "m:unknown"]
    )
    assert set(found) == {"m:complete", ("m", ("meta-only",))}
    assert found["m:complete"]["artifacts"]["c.txt"]["sha256"] == SHA_A
    assert found["m:complete"]["natural_key"] == ("complete",)
    assert found[("m", ("meta-only",))]["artifacts"]["big.iso"]["deferred"] is True

    # A later run fetches the missing artifact: now the unit exists.
    later = catalog.start_run("file:///r", {})
    catalog.save_batch(
        later,
        contents=[_unit("m", "lacking", status="downloaded")],
        links=[
            {
                "key": "m:lacking",
                "relative_path": "l.txt",
                "url": "file:///l",
                "sha256": SHA_B,
                "size": 5,
                "status": "downloaded",
            }
        ],
    )
    assert set(catalog.existing_contents(["m:lacking"])) == {"m:lacking"}
    assert catalog.existing_artifacts([SHA_A, SHA_B, "c" * 64]) == {SHA_A, SHA_B}


def test_a_known_artifact_is_not_forgotten_when_a_later_run_defers_it(catalog: Catalog) -> None:
    run = catalog.start_run("file:///r", {})
    catalog.save_batch(
        run,
        contents=[_unit("pkg", "p", status="downloaded")],
        artifacts=[{"sha256": SHA_A, "size": 1}],
        links=[{"key": "pkg:p", "relative_path": "p.deb", "url": "file:///p", "sha256": SHA_A}],
    )
    later = catalog.start_run("file:///r", {})
    catalog.save_batch(
        later,
        contents=[_unit("pkg", "p", status="deferred")],
        links=[
            {
                "key": "pkg:p",
                "relative_path": "p.deb",
                "url": "file:///p",
                "sha256": None,
                "status": "deferred",
            }
        ],
    )
    assert catalog.existing_contents(["pkg:p"])["pkg:p"]["artifacts"]["p.deb"]["sha256"] == SHA_A
    assert catalog.load_run(later).artifacts[0]["status"] == "deferred"


def test_save_artifacts_merges_digests(catalog: Catalog) -> None:
    catalog.save_artifacts([{"sha256": SHA_A, "size": 4, "digests": {"md5": "0" * 32}}])
    catalog.save_artifacts([{"sha256": SHA_A, "size": 4, "digests": {"sha1": "1" * 40}}])
    assert catalog.artifact_rows([SHA_A])[SHA_A] == {
        "size": 4,
        "digests": {"sha256": SHA_A, "md5": "0" * 32, "sha1": "1" * 40},
    }


def test_a_failing_batch_writes_nothing(catalog: Catalog) -> None:
    run = catalog.start_run("file:///r", {})
    with pytest.raises(StoreError, match="m:other is not in the catalog"):
        catalog.save_batch(
            run,
            contents=[_unit("m", "one", status="downloaded")],
            links=[{"key": "m:other", "relative_path": "x", "url": "file:///x", "sha256": None}],
        )
    assert catalog.load_run(run).units == []
    with pytest.raises(UnsafePathError):
        catalog.save_batch(
            run,
            contents=[_unit("m", "one")],
            links=[{"key": "m:one", "relative_path": "../etc/passwd", "url": "file:///x"}],
        )
    assert catalog.load_run(run).units == []


def test_bad_input_raises_store_errors_naming_the_problem(catalog: Catalog) -> None:
    with pytest.raises(StoreError, match="no run with id 42"):
        catalog.finish_run(42, "completed", {})
    with pytest.raises(StoreError, match="no run with id 42"):
        catalog.load_run(42)
    with pytest.raises(StoreError, match="no run with id 42"):
        catalog.save_contents(42, [_unit("m", "x")])
    with pytest.raises(StoreError, match="no run with id 42"):
        catalog.save_edges(42, [("a", "b")])
    with pytest.raises(StoreError, match="needs a parent and a child"):
        catalog.save_edges(catalog.start_run("file:///r", {}), [("a", "")])
    with pytest.raises(StoreError, match="not a sha256"):
        catalog.save_artifacts([{"sha256": "../x", "size": 1}])


def test_no_credentials_reach_the_catalog_file(backend: Backend, tmp_path: Path) -> None:
    secret = "s3cr3t-pw"
    with backend.catalog(tmp_path) as catalog:
        run = catalog.start_run(
            f"https://bob:{secret}@repo.test/",
            {"password": secret, "mirror": f"https://u:{secret}@m.test/x"},
        )
        catalog.save_batch(
            run,
            contents=[
                _unit(
                    "f",
                    "a",
                    status="failed",
                    error=f"timeout fetching https://bob:{secret}@repo.test/a",
                )
            ],
            links=[
                {
                    "key": "f:a",
                    "relative_path": "a",
                    "sha256": None,
                    "status": "failed",
                    "url": f"https://bob:{secret}@repo.test/a?access_token={secret}&x=1",
                    "error": f"GET https://repo.test/a?token={secret} failed",
                }
            ],
        )
        catalog.finish_run(run, "failed", {"last_url": f"https://bob:{secret}@repo.test/a"})
        records = catalog.load_run(run)
        stored = all_text(catalog)
    assert "repo.test" in stored
    assert secret not in stored
    assert "bob" not in stored
    assert records.run["remote"] == "https://repo.test/"
    assert records.artifacts[0]["url"] == "https://repo.test/a?access_token=REDACTED&x=1"
    assert records.units[0]["error"] == "timeout fetching https://repo.test/a"
    if backend.name != "sqlite":
        return
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"repo.test" in on_disk
    assert secret.encode() not in on_disk
    assert b"bob" not in on_disk


def test_reopening_the_catalog_keeps_schema_and_rows(backend: Backend, tmp_path: Path) -> None:
    with backend.catalog(tmp_path) as first:
        run = first.start_run("file:///r", {})
    for _ in range(2):
        with backend.catalog(tmp_path) as again:
            assert [r["id"] for r in again.runs()] == [run]
            assert count_rows(again, "runs") == 1
    if backend.name != "sqlite":
        return
    with sqlite3.connect(tmp_path / "catalog.sqlite3") as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_catalog_from_a_newer_stagekit_is_refused(backend: Backend, tmp_path: Path) -> None:
    with backend.catalog(tmp_path) as catalog, catalog.transaction() as db:
        if backend.name == "sqlite":
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        else:
            db.execute(
                "UPDATE stagekit_meta SET value = ? WHERE name = 'schema_version'",
                (str(SCHEMA_VERSION + 1),),
            )
    with pytest.raises(StoreError, match="newer"):
        backend.catalog(tmp_path)


def test_reader_sees_committed_rows_while_a_write_is_open(backend: Backend, tmp_path: Path) -> None:
    with backend.catalog(tmp_path) as writer, backend.catalog(tmp_path) as reader:
        done = writer.start_run("file:///r", {})
        writer.save_contents(done, [_unit("f", "a", status="downloaded")])
        with writer.transaction():
            pending = writer.start_run("file:///r", {})
            writer.save_contents(pending, [_unit("f", "b", status="downloaded")])
            # The reader is not blocked by the open write and sees only committed rows.
            assert [r["id"] for r in reader.runs()] == [done]
            assert [u["key"] for u in reader.load_run(done).units] == ["f:a"]
        assert [r["id"] for r in reader.runs()] == [done, pending]
        assert [u["key"] for u in reader.load_run(pending).units] == ["f:b"]


def test_reader_thread_follows_a_writer_thread(backend: Backend, tmp_path: Path) -> None:
    path = tmp_path / "store"
    batches, per_batch = 40, 25
    with backend.store(path) as store:
        run = store.catalog.start_run("file:///r", {})
        first_batch = threading.Event()
        errors: list[BaseException] = []

        def write() -> None:
            try:
                for b in range(batches):
                    rows = [_unit("f", b, i, status="downloaded") for i in range(per_batch)]
                    edges = [(f"f:{b}:0", f"f:{b}:{i}", "child") for i in range(1, per_batch)]
                    store.catalog.save_batch(run, contents=rows, edges=edges)
                    first_batch.set()
            except BaseException as exc:
                errors.append(exc)
                first_batch.set()

        seen: list[int] = []
        writer = threading.Thread(target=write)
        writer.start()
        with backend.store(path) as notebook:
            assert first_batch.wait(60)
            while writer.is_alive():
                records = notebook.load_run(run)
                assert len(records.units) % per_batch == 0  # never half a batch
                seen.append(len(records.units))
            writer.join(60)
            assert not errors
            final = notebook.load_run(run)
        assert seen == sorted(seen)
        assert len(final.units) == batches * per_batch
        assert len(final.edges) == batches * (per_batch - 1)


def test_catalog_can_be_used_from_several_threads(catalog: Catalog) -> None:
    run = catalog.start_run("file:///r", {})

    def write(t: int) -> None:
        for i in range(50):
            catalog.save_contents(run, [_unit("t", t, i, status="downloaded")])

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(catalog.load_run(run).units) == 200
