"""Compare a finished run with the answer of a generated repository.

``assert_run_matches(run, repo.expected)`` is how stagekit tests its own remotes, and how
a plugin author tests theirs against a `stagekit.testing` fixture: units, shortest
depths, edges with their relations, and every artifact row must be exactly the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stagekit.testing.repo import Expected

if TYPE_CHECKING:
    from stagekit.run import Run

__all__ = ["assert_run_matches"]


def _fail(what: str, found: object, expected: object) -> None:
    raise AssertionError(f"{what} differ:\n  found:    {found!r}\n  expected: {expected!r}")


def _diff(found: set[object], expected: set[object]) -> str:
    extra = sorted(map(repr, found - expected))[:10]
    missing = sorted(map(repr, expected - found))[:10]
    return f"unexpected {extra}, missing {missing}"


def assert_run_matches(
    run: Run,
    expected: Expected,
    *,
    policy: str | None = None,
    server_url: str | None = None,
    allow_failures: bool = False,
) -> None:
    """Raise `AssertionError` saying what differs unless ``run`` found exactly ``expected``.

    Checks the units, their depths, the edges (parent, child, relation) and each
    artifact row: sha256, size, URL (ending in the expected path, or equal to
    ``server_url`` + path when given) and status (``deferred`` exactly for deferred
    artifacts under ``policy="metadata-only"``; ``policy`` defaults to the run's).
    Unless ``allow_failures``, the run must have no failed unit.
    """
    policy = policy or getattr(run, "policy", "immediate")
    if not allow_failures and run.errors:
        raise AssertionError(f"the run has failed units: {run.errors[:5]!r}")
    depths = run.depths()
    if set(depths) != set(expected.units):
        raise AssertionError(f"units differ: {_diff(set(depths), set(expected.units))}")
    want_depths = expected.depths()
    if depths != want_depths:
        wrong = sorted((k, d, want_depths[k]) for k, d in depths.items() if d != want_depths[k])
        raise AssertionError(f"depths differ (key, found, expected): {wrong[:10]}")
    edges = run.records.edge_set()
    if edges != expected.edges:
        raise AssertionError(f"edges differ: {_diff(set(edges), set(expected.edges))}")
    rows = {(r.unit_key, r.relative_path): r
            for r in run.artifacts_dataframe().itertuples(index=False)}
    wanted = {(u.key, a.relative_path): a for u in expected.units.values() for a in u.artifacts}
    if set(rows) != set(wanted):
        raise AssertionError(f"artifacts differ: {_diff(set(rows), set(wanted))}")
    for index, artifact in wanted.items():
        row = rows[index]
        url = str(row.url)
        url_ok = (url == server_url + artifact.url_path if server_url is not None
                  else url.endswith("/" + artifact.url_path))
        if not url_ok:
            _fail(f"URL of {index}", url, artifact.url_path)
        if artifact.deferred and policy == "metadata-only":
            if row.status != "deferred":
                _fail(f"status of {index}", row.status, "deferred")
            continue
        if row.status not in ("downloaded", "shared", "existing"):
            _fail(f"status of {index}", row.status, "downloaded, shared or existing")
        if (row.sha256, row.size) != (artifact.sha256, artifact.size):
            _fail(f"sha256 and size of {index}", (row.sha256, row.size),
                  (artifact.sha256, artifact.size))
