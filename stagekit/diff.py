"""What changed between two explorations: `diff(old, new)` -> one row per unit that differs.

A unit is *added* (only in ``new``), *removed* (only in ``old``) or *changed* (in both,
with an artifact whose digest or size differs, or a different set of artifacts); units
the same in both are left out. Deferred artifacts count by their declared digest and size,
so a metadata-only re-run still sees a payload that changed upstream.

Columns: ``key``, ``kind``, ``change`` (``added``/``removed``/``changed``), ``depth`` (in
``new``; in ``old`` for a removed unit), ``old_digest``, ``new_digest``, ``old_size``,
``new_size`` and ``paths`` (the relative paths that differ). A unit's digest is its
artifact's sha256, or, for a unit of several artifacts, the sha256 of its sorted
``path sha256`` lines; its size is the sum of its artifacts' sizes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stagekit.errors import ConfigurationError

if TYPE_CHECKING:
    import pandas as pd

    from stagekit.run import Run
    from stagekit.storage import Store

__all__ = ["CHANGES", "diff", "diff_columns"]

CHANGES = ("added", "removed", "changed")


def diff_columns() -> dict[str, Any]:
    """Columns and dtypes of `diff`'s DataFrame."""
    import pandas as pd

    return {
        "key": "string",
        "kind": "category",
        "change": pd.CategoricalDtype(list(CHANGES)),
        "depth": "Int64",
        "old_digest": "string",
        "new_digest": "string",
        "old_size": "Int64",
        "new_size": "Int64",
        "paths": "string",
    }


@dataclass(slots=True)
class _Unit:
    kind: str
    depth: int | None
    artifacts: dict[str, tuple[str | None, int | None]] = field(default_factory=dict)

    @property
    def digest(self) -> str | None:
        if not self.artifacts:
            return None
        if len(self.artifacts) == 1:
            return next(iter(self.artifacts.values()))[0]
        lines = "".join(f"{p} {s or '-'}\n" for p, (s, _) in sorted(self.artifacts.items()))
        return hashlib.sha256(lines.encode()).hexdigest()

    @property
    def size(self) -> int | None:
        sizes = [size for _, size in self.artifacts.values()]
        return None if not sizes or None in sizes else sum(s for s in sizes if s is not None)


def _from_run(run: Run) -> dict[str, _Unit]:
    records = run.records
    units = {key: _Unit(r.kind, r.depth) for key, r in records.units.items()}
    for (key, path), a in records.artifacts.items():
        unit = units.get(key)
        if unit is not None:
            unit.artifacts[path] = (a.sha256, a.size)
    return units


def _from_store(store: Store, run_id: int) -> dict[str, _Unit]:
    saved = store.load_run(run_id)
    units = {u["key"]: _Unit(u["kind"], u["depth"]) for u in saved.units}
    for a in saved.artifacts:
        unit = units.get(a["unit_key"])
        if unit is not None:
            sha256 = a.get("sha256") or a.get("declared_sha256")
            unit.artifacts[a["relative_path"]] = (sha256, a.get("size"))
    return units


def _is_run(side: object) -> bool:
    # Duck-typed: stagekit.run imports this module (Run.diff).
    return hasattr(side, "records") and hasattr(side, "store")


def _units(side: Run | int | str, store: Store | None, which: str) -> dict[str, _Unit]:
    if _is_run(side):
        return _from_run(side)  # type: ignore[arg-type]
    try:
        run_id = int(side)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"{which} must be a stagekit.Run or a run id, got {side!r}") from None
    if store is None:
        raise ConfigurationError(f"{which} is run id {run_id}: give store= to read it from")
    return _from_store(store, run_id)


def _differs(old: tuple[str | None, int | None], new: tuple[str | None, int | None]) -> bool:
    (old_sha, old_size), (new_sha, new_size) = old, new
    if old_sha and new_sha and old_sha != new_sha:
        return True
    return old_size is not None and new_size is not None and old_size != new_size


def diff(old: Run | int, new: Run | int, store: Store | str | Path | None = None
         ) -> pd.DataFrame:
    """The units added, removed or changed from ``old`` to ``new`` (see the module text).

    ``old`` and ``new`` are `stagekit.Run`s or run ids of ``store`` (a `Store` or its
    folder; by default the store of whichever side is a `Run`). Raises
    `ConfigurationError` for a run id without a store, `StoreError` for an unknown id.
    """
    import pandas as pd

    from stagekit.storage import Store

    opened = None
    if store is None:
        store = next((s.store for s in (old, new) if _is_run(s)), None)  # type: ignore[union-attr]
    elif not isinstance(store, Store):
        store = opened = Store(store)
    try:
        before, after = _units(old, store, "old"), _units(new, store, "new")
    finally:
        if opened is not None:
            opened.close()
    rows: list[tuple[Any, ...]] = []
    for key, unit in after.items():
        was = before.get(key)
        if was is None:
            rows.append((key, unit.kind, "added", unit.depth, None, unit.digest, None,
                         unit.size, ",".join(sorted(unit.artifacts))))
            continue
        paths = sorted(p for p in was.artifacts.keys() | unit.artifacts.keys()
                       if p not in was.artifacts or p not in unit.artifacts
                       or _differs(was.artifacts[p], unit.artifacts[p]))
        if paths:
            rows.append((key, unit.kind, "changed", unit.depth, was.digest, unit.digest,
                         was.size, unit.size, ",".join(paths)))
    for key, was in before.items():
        if key not in after:
            rows.append((key, was.kind, "removed", was.depth, was.digest, None, was.size,
                         None, ",".join(sorted(was.artifacts))))
    columns = diff_columns()
    order = {change: i for i, change in enumerate(CHANGES)}
    rows.sort(key=lambda r: (order[r[2]], r[3] if r[3] is not None else -1, r[0]))
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    return frame.astype(columns)
