"""``-o KEY=VALUE`` values checked against the type of the option's default: a boolean only from true/false,
yes/no or 1/0 (so ``aging=maybe`` is an error, never true), a number only from a finite number, text as text.
What each owner (strategy, space, task) accepts is read from its own defaults, so a new option needs no entry
here."""

from __future__ import annotations

import inspect
import math
from typing import Any

from evonas.errors import UserError

TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("false", "no", "0")


def keyword_defaults(factory: Any) -> dict[str, Any]:
    """The keyword arguments of a class or function that have defaults, with those defaults."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return {}
    out = {}
    for p in parameters:
        if p.default is inspect.Parameter.empty:
            continue
        floats = "float" in str(p.annotation) and not isinstance(p.default, bool)
        out[p.name] = float(p.default) if floats and isinstance(p.default, int) else p.default  # ``x: float = 1`` takes 0.5
    return out


def coerce(owner: str, key: str, value: Any, default: Any) -> Any:
    """``value`` as the type of ``default`` (bool, int, float or str); a one-line UserError naming ``owner``'s
    option when it is not one. A default of another type (None, a list) leaves the value as given."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE_WORDS or text in FALSE_WORDS:
            return text in TRUE_WORDS
        raise UserError(f"-o {key} ({owner}) must be true or false (or yes/no, 1/0), got {value!r}")
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            kind = "an integer" if isinstance(default, int) else "a finite number"
            raise UserError(f"-o {key} ({owner}) must be {kind}, got {value!r}")
        if isinstance(default, int) and not isinstance(value, int):
            if not float(value).is_integer():
                raise UserError(f"-o {key} ({owner}) must be an integer, got {value!r}")
            return int(value)
        return value
    if isinstance(default, str) and not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # '-o table=1110' parses as a number; the option wants its text
        raise UserError(f"-o {key} ({owner}) must be text, got {value!r}")
    return value
