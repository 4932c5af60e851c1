"""Helpers to run the ``evonas`` CLI in a fresh interpreter from tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EVONAS = [sys.executable, "-c", "from evonas.cli import main; main()"]


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``evonas ARGS`` and capture its output."""
    full_env = {**os.environ, "PYTHONSAFEPATH": "1", **(env or {})}
    return subprocess.run([*EVONAS, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
