"""evonas: evolutionary program and architecture search with compiled kernels."""

from __future__ import annotations

__version__ = "0.1.0"
