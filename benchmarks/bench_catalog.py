"""Catalog writes and reads: `Catalog.save_batch` units/s and `existing_contents` latency.

Rows are built the way `stagekit.stages.content.ContentSaver` builds them: 200-unit
batches, one link each, in three shapes: ``metadata-only`` (deferred links, no artifact),
``downloaded`` (an artifact per unit) and ``rerun`` (the metadata-only units again in a
second run: every row an upsert conflict). Each repeat writes into a fresh catalog file
and the median repeat counts (the machine is shared). ``existing_contents`` then looks up
500 keys that all exist (and 500 that do not, for information). Targets: save_batch
>= 30,000 units/s, existing_contents(500) <= 20 ms.

    python benchmarks/bench_catalog.py [--quick] [--units N] [--repeats N]
"""

from __future__ import annotations

import hashlib
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Measure, parse_args, report, time_repeats

from stagekit.models import Artifact, Content, DeclarativeArtifact, DeclarativeContent
from stagekit.stages.content import catalog_rows
from stagekit.storage import Catalog

BATCH = 200
LOOKUP = 500
SAVE_TARGET = ">= 30000"
LOOKUP_TARGET = "<= 20"


@dataclass(frozen=True, slots=True)
class Pkg(Content):
    """A package-like unit with a few typical fields."""

    kind = "bench.pkg"
    name: str
    version: str
    arch: str = "amd64"
    section: str = "utils"

    def natural_key(self) -> tuple[str, str, str]:
        """Name, version and architecture."""
        return (self.name, self.version, self.arch)


def make_units(n: int, downloaded: bool) -> list[DeclarativeContent]:
    """``n`` units with one artifact each, stored (``downloaded``) or deferred."""
    units = []
    for i in range(n):
        name = f"pkg{i}"
        sha256 = hashlib.sha256(name.encode()).hexdigest()
        da = DeclarativeArtifact(f"https://repo.test/pool/{name}_1.0_amd64.deb",
                                 f"pool/{name}_1.0_amd64.deb", digests={"sha256": sha256},
                                 size=4096 + i, deferred=not downloaded)
        if downloaded:
            da.artifact = Artifact(sha256, 4096 + i, {"sha256": sha256})
            da.status, da.tries = "downloaded", 1
        else:
            da.status = "deferred"
        dc = DeclarativeContent(Pkg(name, "1.0"), [da])
        dc.depth = i % 4
        units.append(dc)
    return units


def batches_of(units: list[DeclarativeContent]) -> list[dict[str, Any]]:
    """save_batch arguments for every 200-unit batch (built outside the timings)."""
    return [catalog_rows(units[i : i + BATCH]) for i in range(0, len(units), BATCH)]


def save_all(catalog: Catalog, run_id: int, batches: list[dict[str, Any]]) -> float:
    """Seconds to save every batch."""
    start = time.perf_counter()
    for kwargs in batches:
        catalog.save_batch(run_id, **kwargs)
    return time.perf_counter() - start


def timed_save(workdir: Path, batches: list[dict[str, Any]], rerun: bool) -> Callable[[], float]:
    """One repeat: a fresh catalog (pre-filled by a first run when ``rerun``), timed saves."""
    counter = iter(range(1_000_000))

    def once() -> float:
        with Catalog(workdir / f"catalog-{next(counter)}.sqlite3") as catalog:
            if rerun:
                save_all(catalog, catalog.start_run("file:///bench", {}), batches)
            return save_all(catalog, catalog.start_run("file:///bench", {}), batches)

    return once


def timed_lookup(catalog: Catalog, keys: list[str], expect: int) -> Callable[[], float]:
    """One repeat: existing_contents of ``keys``; checks that ``expect`` were found."""

    def once() -> float:
        start = time.perf_counter()
        found = catalog.existing_contents(keys)
        elapsed = time.perf_counter() - start
        if len(found) != expect:
            raise AssertionError(f"existing_contents found {len(found)} of {len(keys)}")
        return elapsed

    return once


def main(argv: list[str] | None = None) -> int:
    """Time save_batch and existing_contents, print the table, write results/catalog.json."""

    def extra(parser: Any) -> None:
        parser.add_argument("--units", type=int, default=None, help="units per repeat")

    args = parse_args(__doc__.splitlines()[0], argv, extra)
    units = args.units or (2_000 if args.quick else 20_000)
    repeats = args.repeats or (2 if args.quick else 5)
    measures: list[Measure] = []
    details: dict[str, Any] = {"units": units, "batch": BATCH, "repeats": repeats}
    with tempfile.TemporaryDirectory(prefix="stagekit-bench-catalog-") as tmp:
        workdir = Path(tmp)
        meta = batches_of(make_units(units, downloaded=False))
        shapes = [("metadata-only", meta, False),
                  ("downloaded", batches_of(make_units(units, downloaded=True)), False),
                  ("rerun", meta, True)]
        for shape, batches, rerun in shapes:
            timing = time_repeats(timed_save(workdir, batches, rerun), repeats)
            details[f"save_{shape}_seconds"] = timing.samples
            measures.append(Measure(
                f"catalog: save_batch {shape}, {BATCH}-unit batches", units / timing.median,
                "units/s", target=SAVE_TARGET, target_on="value",
                notes=f"median of {repeats}, {units:,} units",
                extra={"ms_per_batch": 1000 * timing.median * BATCH / units,
                       "best_units_per_s": units / timing.best}))

        with Catalog(workdir / "lookup.sqlite3") as catalog:
            save_all(catalog, catalog.start_run("file:///bench", {}), meta)
            all_keys = [row["key"] for kwargs in meta for row in kwargs["contents"]]
            keys = random.Random(7).sample(all_keys, min(LOOKUP, len(all_keys)))
            missing = [f"bench.pkg:none{i}:1.0:amd64" for i in range(LOOKUP)]
            lookup_repeats = repeats * 4
            hit = time_repeats(timed_lookup(catalog, keys, len(keys)), lookup_repeats)
            miss = time_repeats(timed_lookup(catalog, missing, 0), lookup_repeats)
        details["lookup_hit_seconds"] = hit.samples
        details["lookup_miss_seconds"] = miss.samples
        measures.append(Measure(
            f"catalog: existing_contents of {len(keys)} existing keys", 1000 * hit.median, "ms",
            target=LOOKUP_TARGET, target_on="value",
            notes=f"median of {lookup_repeats} in a {units:,}-unit catalog",
            extra={"best_ms": 1000 * hit.best}))
        measures.append(Measure(
            f"catalog: existing_contents of {LOOKUP} unknown keys", 1000 * miss.median, "ms",
            notes=f"median of {lookup_repeats}", extra={"best_ms": 1000 * miss.best}))
    report("catalog", args, measures, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
