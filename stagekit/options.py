"""The choices a run takes, as `Literal` types, and their validation.

Options are checked here, before a run writes anything to its catalog, so a typo
(``policy="metadata_only"``) is a `ConfigurationError` (a `ValueError`) naming the
option, not a failed run.
"""

from __future__ import annotations

from typing import Literal, TypeVar, get_args

from stagekit.errors import ConfigurationError

__all__ = [
    "OnError",
    "Policy",
    "Status",
    "check_concurrency",
    "check_max_depth",
    "check_on_error",
    "check_policy",
]

#: ``"immediate"`` fetches every artifact; ``"metadata-only"`` leaves deferred ones.
Policy = Literal["immediate", "metadata-only"]
#: ``"continue"`` reports a failed unit and goes on; ``"abort"`` raises the first failure.
OnError = Literal["continue", "abort"]
#: What happened to a unit (or an artifact) in a run: the rule is `stagekit.status`'s.
Status = Literal["discovered", "downloaded", "shared", "existing", "deferred", "failed",
                 "skipped"]

_T = TypeVar("_T", bound=str)


def _check_choice(name: str, value: object, choices: tuple[_T, ...]) -> _T:
    for choice in choices:
        if value == choice:
            return choice
    allowed = ", ".join(map(repr, choices))
    raise ConfigurationError(f"{name} must be one of {allowed}, got {value!r}")


def check_policy(value: object) -> Policy:
    """``value`` as a `Policy`, or a `ConfigurationError` naming the choices."""
    return _check_choice("policy", value, get_args(Policy))


def check_on_error(value: object) -> OnError:
    """``value`` as an `OnError`, or a `ConfigurationError` naming the choices."""
    return _check_choice("on_error", value, get_args(OnError))


def check_max_depth(value: object) -> int | None:
    """``value`` as a depth limit (an int >= 0, or None for no limit)."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigurationError(f"max_depth must be an int >= 0 or None, got {value!r}")
    return value


def check_concurrency(name: str, value: object) -> int:
    """``value`` as a positive count of concurrent things."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigurationError(f"{name} must be an int >= 1, got {value!r}")
    return value
