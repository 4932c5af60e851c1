"""Plug-in code named in a run folder (a task or strategy written as ``package.module:attr`` in config.json or
protocol.json) is imported only when the user vouches for it on this command line: by naming it (``evolve
--task`` / ``--strategy``) or with ``--trust-task``. Opening someone else's run folder never runs its code."""

from __future__ import annotations

import json
from pathlib import Path

from evonas.errors import UserError

_TRUSTED: set[str] = set()


def is_plugin(name: str | None) -> bool:
    """Whether a task or strategy name is a ``module:attr`` path (importing it runs code)."""
    return name is not None and ":" in name


def trust(name: str | None) -> None:
    """Allow this process to import ``name`` when a run folder names it."""
    if is_plugin(name):
        _TRUSTED.add(str(name))


def check_trusted(names: list[str | None], where: Path) -> None:
    """A UserError naming the first plug-in in ``names`` nobody vouched for (``where`` is the file naming it)."""
    for name in names:
        if is_plugin(name) and name not in _TRUSTED:
            raise UserError(f"{where} names the plug-in {name!r}, and loading it would run its code; if you trust it, name it "
                            f"again (resume --task/--strategy {name}) or add --trust-task (evolve trusts what its own --task and "
                            "--strategy name)")


def recorded_plugins(folder: Path) -> dict[str, str | None]:
    """The task and strategy names a run or protocol folder records, read as text (nothing is imported)."""
    for file in ("config.json", "protocol.json"):
        try:
            data = json.loads((folder / file).read_text())
        except (OSError, ValueError):
            continue
        config = data.get("config", data) if isinstance(data, dict) else {}
        if isinstance(config, dict):
            return {"task": config.get("task"), "strategy": config.get("strategy")}
    return {"task": None, "strategy": None}


def trust_folder(folder: Path) -> None:
    """``--trust-task``: trust the plug-in task and strategy a run or protocol folder names."""
    names = recorded_plugins(folder)
    trust(names["task"])
    trust(names["strategy"])
