"""Which unit of a run stored each file first, shared by every worker and every attempt.

In one process, a run tells its own files from older ones with a set in memory: a file
it stored is "downloaded" for the unit that stored it and "shared" for the next units
that need it; a file that was there before the run is "existing". A cluster has no such
memory: another worker, or a second attempt of a batch whose worker died, finds the
file in the store and cannot tell who put it there. So before a worker commits a file
the store does not hold, it *claims* the digest for the run in the catalog (shared by
all workers), in the name of the unit and path that fetched it; the first claim wins.
A file is then "downloaded" for its claimant (a retried batch included), "shared" for
any other unit of the run, and "existing" when nobody in the run claimed it.

The claim is written before the file, so a held file stored by this run always has
one. Claims live in a table of their own (``cluster_claims``), created by the
coordinator when a cluster run opens and emptied of the run's rows when it ends. A run
that ends without emptying them (cancelled, or its process killed) leaves them to the
next cluster run on the catalog, which drops the claims of every run no longer running.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stagekit.models import DeclarativeArtifact, DeclarativeContent
from stagekit.storage import Store

__all__ = ["Claims", "create_claims_table", "forget_claims", "owner_of", "status_of"]

_CHUNK = 500


def create_claims_table(catalog: Any) -> None:
    """Create the claims table if the catalog has none (idempotent), and drop the claims
    that runs no longer running left behind (other coordinators' running runs keep theirs)."""
    with catalog.transaction() as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS cluster_claims ("
            " run_id BIGINT NOT NULL, sha256 TEXT NOT NULL, owner TEXT NOT NULL,"
            " PRIMARY KEY (run_id, sha256))")
        db.execute("DELETE FROM cluster_claims WHERE run_id IN"
                   " (SELECT id FROM runs WHERE status <> 'running')")


def forget_claims(catalog: Any, run_id: int) -> None:
    """Drop the claims of a finished run."""
    with catalog.transaction() as db:
        db.execute("DELETE FROM cluster_claims WHERE run_id = ?", (run_id,))


def owner_of(dc: DeclarativeContent, da: DeclarativeArtifact) -> str:
    """The name a claim is made in: the unit and the path of its artifact."""
    return f"{dc.key}\n{da.relative_path}"


class Claims:
    """The claims of run ``run_id`` in ``store``'s catalog."""

    def __init__(self, store: Store, run_id: int) -> None:
        self.store = store
        self.run_id = run_id

    def owners(self, digests: Iterable[str]) -> dict[str, str]:
        """The claimant of each of ``digests`` that this run claimed."""
        wanted = sorted(set(digests))
        found: dict[str, str] = {}
        if not wanted:
            return found
        with self.store.catalog.transaction() as db:
            self._select(db, wanted, found)
        return found

    def claim(self, items: list[tuple[str, int | None, str]]) -> dict[str, str]:
        """Claim each ``(sha256, size, owner)`` about to be committed whose file the store
        does not hold; the claimant of every digest (none: held before this run)."""
        store = self.store
        new = [(self.run_id, sha256, owner) for sha256, size, owner in items
               if not store.has(sha256, size)]
        found: dict[str, str] = {}
        with store.catalog.transaction() as db:
            if new:
                db.executemany(
                    "INSERT INTO cluster_claims (run_id, sha256, owner) VALUES (?, ?, ?)"
                    " ON CONFLICT (run_id, sha256) DO NOTHING", new)
            self._select(db, sorted({sha256 for sha256, _size, _owner in items}), found)
        return found

    def _select(self, db: Any, wanted: list[str], found: dict[str, str]) -> None:
        for start in range(0, len(wanted), _CHUNK):
            part = wanted[start:start + _CHUNK]
            marks = ", ".join("?" * len(part))
            rows = db.execute(
                f"SELECT sha256, owner FROM cluster_claims WHERE run_id = ?"
                f" AND sha256 IN ({marks})", (self.run_id, *part)).fetchall()
            found.update((str(sha256), str(owner)) for sha256, owner in rows)


def status_of(owners: dict[str, str], sha256: str, owner: str) -> str:
    """What a run's unit ``owner`` did with the file ``sha256``, given the claims."""
    claimant = owners.get(sha256)
    if claimant is None:
        return "existing"
    return "downloaded" if claimant == owner else "shared"
