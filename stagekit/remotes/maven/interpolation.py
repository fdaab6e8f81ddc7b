"""``${...}`` interpolation of POM values from properties and the project model."""

from __future__ import annotations

import re
from collections.abc import Mapping

from stagekit.limits import DEFAULT_LIMITS

__all__ = ["InterpolationError", "Interpolator"]

_EXPRESSION = re.compile(r"\$\{([^${}]+)\}")
_PREFIXES = ("project.", "pom.")


class InterpolationError(Exception):
    """An expression is undefined or its properties form a cycle (the caller adds the URL)."""


class Interpolator:
    """Expands ``${expr}`` the way Maven's model interpolator looks values up.

    Lookup order: ``project.*``/``pom.*`` model values (``project.version``,
    ``project.parent.groupId``...), then properties (which may themselves be named
    ``project.something``), then unprefixed model values (the deprecated ``${version}``).
    Values are expanded recursively; a cycle raises `InterpolationError` with its path, and
    so does a value that would grow past ``max_size`` characters (properties that double
    each other are a memory bomb), checked while it is built.
    """

    __slots__ = ("_cache", "_model", "_properties", "_spent", "max_size", "max_total")

    def __init__(self, properties: Mapping[str, str], model: Mapping[str, str | None], *,
                 max_size: int = DEFAULT_LIMITS.property_bytes) -> None:
        self._properties = properties
        self._model = model
        self._cache: dict[str, str] = {}
        self.max_size = max_size
        # What all expansions together may produce: 50,000 dependencies that each expand
        # a 1 MiB property would be 50 GB.
        self.max_total = 32 * max_size
        self._spent = 0

    def _lookup(self, expr: str) -> str | None:
        for prefix in _PREFIXES:
            if expr.startswith(prefix):
                value = self._model.get(expr[len(prefix) :])
                if value is not None:
                    return value
        if expr in self._properties:
            return self._properties[expr]
        return self._model.get(expr)

    def _value(self, expr: str, stack: tuple[str, ...]) -> str:
        cached = self._cache.get(expr)
        if cached is not None:
            return cached
        if expr in stack:
            cycle = [*stack[stack.index(expr) :], expr]
            raise InterpolationError(f"properties form a cycle: {' -> '.join(cycle)}")
        raw = self._lookup(expr)
        if raw is None:
            if stack:
                raise InterpolationError(
                    f"${{{expr}}} is not defined (needed by ${{{stack[-1]}}})"
                )
            raise InterpolationError(f"${{{expr}}} is not defined")
        value = self._expand(raw, (*stack, expr))
        self._cache[expr] = value
        return value

    def _expand(self, text: str, stack: tuple[str, ...]) -> str:
        if "${" not in text:
            return text
        if self._spent > self.max_total:
            raise InterpolationError(
                f"the POM's values expand to more than {self.max_total} characters in all "
                "(32 x Limits.property_bytes)")
        parts: list[str] = []
        size = position = 0
        for match in _EXPRESSION.finditer(text):
            value = self._value(match.group(1).strip(), stack)
            parts += (text[position:match.start()], value)
            size += match.start() - position + len(value)
            position = match.end()
            if size > self.max_size:
                what = f"${{{stack[-1]}}}" if stack else "a value"
                raise InterpolationError(
                    f"{what} expands to more than {self.max_size} characters "
                    "(Limits.property_bytes)")
        parts.append(text[position:])
        self._spent += size
        if self._spent > self.max_total:
            raise InterpolationError(
                f"the POM's values expand to more than {self.max_total} characters in all "
                "(32 x Limits.property_bytes)")
        return "".join(parts)

    def resolve(self, text: str) -> str:
        """``text`` with every ``${...}`` expanded; raises `InterpolationError`."""
        return self._expand(text, ())

    def get(self, name: str) -> str | None:
        """The expanded value of expression ``name`` (``foo.version``, ``project.version``)."""
        try:
            return self._value(name, ())
        except InterpolationError:
            return None
