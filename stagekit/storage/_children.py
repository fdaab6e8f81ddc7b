"""Reading what an earlier run found below a unit, to re-declare it without re-reading it."""

from __future__ import annotations

from typing import Any

from stagekit.storage._dialect import Db
from stagekit.storage._rows import from_json

__all__ = ["EXPLORED_IN", "known_children"]

# The newest finished run of the same remote in which the unit had this artifact, was not
# failed, and was explored (not cut off by that run's max_depth).
EXPLORED_IN = """
SELECT ra.run_id FROM run_artifacts ra
JOIN content c ON c.id = ra.content_id
JOIN runs r ON r.id = ra.run_id
JOIN run_units u ON u.run_id = ra.run_id AND u.content_id = ra.content_id
WHERE c.key = ? AND ra.sha256 = ? AND r.status = 'finished' AND r.remote = ?
  AND COALESCE(u.status, '') != 'failed'
  AND COALESCE({run_max_depth}, 1099511627776) > COALESCE(u.depth, 0)
ORDER BY ra.run_id DESC LIMIT 1
"""
_CHILDREN = """
SELECT e.child_key, c.fields FROM run_edges e
LEFT JOIN content c ON c.key = e.child_key AND c.kind = ?
WHERE e.run_id = ? AND e.parent_key = ? AND e.relation = ?
"""


def known_children(
    conn: Db, parent_key: str, sha256: str, remote: str, relation: str,
    child_kind: str,
) -> list[dict[str, Any]] | None:
    """The saved fields of every child an earlier run found below ``parent_key``.

    None when no finished run of ``remote`` explored that unit with the artifact
    ``sha256``, or when one of its children was not saved with its fields (it failed).
    """
    row = conn.execute(EXPLORED_IN, (parent_key, sha256, remote)).fetchone()
    if row is None:
        return None
    children = []
    for _key, fields in conn.execute(_CHILDREN, (child_kind, row[0], parent_key, relation)):
        decoded = from_json(fields) if fields else None
        if not decoded:
            return None
        children.append(decoded)
    return children
