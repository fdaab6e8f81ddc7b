"""What differs between the catalog's SQL dialects, in one place.

The catalog's statements are written once, in SQLite's spelling with ``?`` placeholders
and a few ``{tokens}`` for what the dialects spell differently (the two-argument
maximum, the insertion-order column, a JSON array of ``[kind, natural_key]`` pairs used
as a table). `Dialect.sql` turns a statement into the dialect's text (cached), and `Db`
is the connection the read and write functions use, whichever the backend.

Upserts (``INSERT ... ON CONFLICT ... DO UPDATE``), ``RETURNING`` and ``json_patch`` are
spelled the same in both: SQLite has them built in, the PostgreSQL schema defines
``json_patch`` (see `stagekit.storage._pg_schema`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["POSTGRES", "SQLITE", "Db", "Dialect"]


@dataclass(frozen=True, eq=False)
class Dialect:
    """One SQL dialect: its token spellings and placeholder."""

    name: str
    tokens: dict[str, str]
    placeholder: str
    #: Most bound parameters in one statement (None: ask the SQLite connection).
    max_params: int | None
    #: Whether a multi-row upsert may name the same conflict key twice (PostgreSQL refuses).
    repeats_in_one_upsert: bool
    _cache: dict[str, str] = field(default_factory=dict, repr=False)

    def sql(self, template: str) -> str:
        """``template`` in this dialect."""
        text = self._cache.get(template)
        if text is None:
            text = template
            for token, spelling in self.tokens.items():
                text = text.replace(token, spelling)
            if self.placeholder != "?":
                if "%" in text:  # psycopg would read it as a placeholder
                    raise ValueError(f"catalog SQL may not contain '%': {template!r}")
                text = text.replace("?", self.placeholder)
            self._cache[template] = text
        return text


SQLITE = Dialect(
    name="sqlite",
    tokens={
        "{greatest}": "MAX",
        "{seq}": "rowid",
        "{pairs}": "json_each(?) j",
        "{pair_kind}": "json_extract(j.value, '$[0]')",
        "{pair_nk}": "json_extract(j.value, '$[1]')",
        "{run_max_depth}": "json_extract(r.params, '$.max_depth')",
        "{declared_sha256}": "json_extract(ra.extra, '$.declared_sha256')",
    },
    placeholder="?",
    max_params=None,
    repeats_in_one_upsert=True,
)

POSTGRES = Dialect(
    name="postgresql",
    tokens={
        "{greatest}": "GREATEST",
        "{seq}": "seq",
        "{pairs}": "jsonb_array_elements(CAST(? AS jsonb)) j",
        "{pair_kind}": "(j.value ->> 0)",
        "{pair_nk}": "(j.value ->> 1)",
        "{run_max_depth}": "CAST(CAST(r.params AS jsonb) ->> 'max_depth' AS BIGINT)",
        "{declared_sha256}": "(CAST(ra.extra AS jsonb) ->> 'declared_sha256')",
    },
    placeholder="%s",
    max_params=65_535,
    repeats_in_one_upsert=False,
)


class _Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Any: ...


class Db:
    """A catalog connection (sqlite3 or psycopg) that speaks the catalog's SQL."""

    __slots__ = ("dialect", "raw", "variable_limit")

    def __init__(self, raw: Any, dialect: Dialect, variable_limit: int) -> None:
        self.raw = raw
        self.dialect = dialect
        self.variable_limit = variable_limit

    def execute(self, template: str, params: Sequence[Any] = ()) -> _Cursor:
        """Run one statement; the cursor iterates over its rows."""
        sql = self.dialect.sql(template)
        bound = params if self.dialect is SQLITE else params or None  # psycopg: None, not ()
        cursor: _Cursor = self.raw.execute(sql, bound)
        return cursor

    def executemany(self, template: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per row."""
        sql = self.dialect.sql(template)
        if self.dialect is SQLITE:
            self.raw.executemany(sql, rows)
        else:
            with self.raw.cursor() as cursor:
                cursor.executemany(sql, list(rows))
