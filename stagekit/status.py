"""The one rule that gives a unit its status from what happened to its artifacts.

An artifact of a run is, in that run:

- ``downloaded``: fetched by this run and stored (its bytes count in ``run.stats``);
- ``shared``: already stored *by this run* for another unit (an OCI blob two manifests
  share, a file two units name): not fetched again, and not "from an earlier run";
- ``existing``: in the store before this run started (an earlier run stored it);
- ``deferred``: not fetched, on purpose (a payload under ``policy="metadata-only"``);
- ``failed``: could not be fetched or verified.

A unit's status is then, in this order:

1. ``failed`` if any artifact failed (or its discovery failed);
2. ``deferred`` if it has artifacts and every one is deferred (nothing of it was fetched);
3. otherwise from the artifacts that were fetched, ignoring deferred ones:
   ``downloaded`` if any was downloaded, else ``shared`` if any was shared, else
   ``existing``. So a Maven POM fetched while its jar waits is ``downloaded`` (the unit
   table's ``deferred`` column counts its deferred artifacts), not ``deferred``;
4. a unit without artifacts is ``existing`` when the catalog held it from an earlier
   run, else ``downloaded`` (it was found and saved now).

``discovered`` (found, not saved yet, or cut short by a cancellation) and ``skipped``
complete the unit statuses, listed in `UNIT_STATUSES`.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ARTIFACT_STATUSES", "UNIT_STATUSES", "unit_status_of"]

UNIT_STATUSES = ("discovered", "downloaded", "shared", "existing", "deferred", "failed",
                 "skipped")
ARTIFACT_STATUSES = ("downloaded", "shared", "existing", "deferred", "failed")


def unit_status_of(artifact_statuses: Iterable[str | None], *, known_before: bool = False) -> str:
    """A unit's status from its artifacts' statuses (the rule in this module's text).

    ``known_before``: the catalog held the unit from an earlier run (used only for a
    unit without artifacts). A None artifact status counts as fetched now.
    """
    statuses = ["downloaded" if s is None else s for s in artifact_statuses]
    if not statuses:
        return "existing" if known_before else "downloaded"
    if "failed" in statuses:
        return "failed"
    fetched = [s for s in statuses if s != "deferred"]
    if not fetched:
        return "deferred"
    for status in ("downloaded", "shared"):
        if status in fetched:
            return status
    return "existing"
