"""evonas: evolutionary program and architecture search with compiled kernels.

The Python API (``evolve``, ``resume``, ``open_run``, ``write_report``; see docs/python-api.md) is loaded
on first use, so that importing evonas, which every worker process and every submodule import does, stays light.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
# Not "report" or "export": those are submodules (evonas.report, evonas.export), whose import would replace such
# attributes; a run's report and export are methods of what open_run returns.
__all__ = ["evolve", "resume", "open_run", "write_report", "__version__"]
_API = ("evolve", "resume", "open_run", "write_report")


def __getattr__(name: str) -> Any:
    """The API's functions, imported from ``evonas.api`` the first time one is asked for."""
    if name in _API:
        from evonas import api

        return getattr(api, name)
    raise AttributeError(f"module 'evonas' has no attribute {name!r}")
