"""What only the shared PostgreSQL catalog promises: several coordinators at once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from stagekit.errors import ConfigurationError, StoreError
from stagekit.storage import Store
from stagekit.testing.postgres import PostgresServer
from tests.backends import count_rows


@pytest.fixture
def url(pg_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    name = "".join(c if c.isalnum() else "_" for c in request.node.name)[:40]
    return pg_server.create_database(f"pg_{name}")


def test_coordinators_writing_overlapping_units_at_once_lose_nothing(
    url: str, tmp_path: Path
) -> None:
    stores = [Store(tmp_path / f"machine-{i}", catalog=url) for i in range(4)]
    runs = [s.catalog.start_run("file:///r", {"session": s.session}) for s in stores]
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def write(i: int) -> None:
        keys = list(range(300))
        if i % 2:
            keys.reverse()  # opposite lock order: PostgreSQL may pick a deadlock victim
        try:
            start.wait(30)
            for first in range(0, len(keys), 50):
                rows = [
                    {"kind": "u", "natural_key": (str(k),), "status": "downloaded", "depth": i}
                    for k in keys[first : first + 50]
                ]
                edges = [("u:root", f"u:{k}") for k in keys[first : first + 50]]
                stores[i].catalog.save_batch(runs[i], contents=rows, edges=edges)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    try:
        assert errors == []
        catalog = stores[0].catalog
        assert count_rows(catalog, "content") == 300
        for i, run in enumerate(runs):
            records = catalog.load_run(run)
            assert len(records.units) == 300
            assert {u["depth"] for u in records.units} == {i}
            assert len(records.edges) == 300
    finally:
        for store in stores:
            store.close()


def test_a_run_of_a_store_on_another_machine_stays_running_while_it_lives(
    url: str, tmp_path: Path
) -> None:
    with Store(tmp_path / "a", catalog=url) as a:
        run = a.catalog.start_run("file:///r", {"session": a.session})
        # Another machine: another folder, so its own lock files know nothing of `a`.
        with Store(tmp_path / "b", catalog=url) as b:
            assert b.catalog.get_run(run)["status"] == "running"
    with Store(tmp_path / "c", catalog=url) as c:
        assert c.catalog.get_run(run)["status"] == "interrupted"


def test_errors_name_the_catalog_without_its_password(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    bad = f"postgresql://{pg_server.user}:hunter2@{pg_server.host}:{pg_server.port}/no_such_db"
    with pytest.raises(StoreError) as caught:
        Store(tmp_path / "s", catalog=bad)
    assert "no_such_db" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_catalog_that_is_neither_a_path_nor_postgresql_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="expected a postgresql:// URL"):
        Store(tmp_path / "s", catalog="mysql://u:pw@db/x")
