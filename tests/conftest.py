"""Shared test settings: a derandomized hypothesis profile for CI, and the tests folder on sys.path for helpers."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib does not add it
# Converted benchmark tables go to a folder of this session (CLI subprocesses inherit it), not the user's cache.
os.environ.setdefault("EVONAS_CACHE_DIR", tempfile.mkdtemp(prefix="evonas-cache-"))

settings.register_profile("ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """Python's own Ctrl-C handler for the test, also when pytest was started with SIGINT ignored (nohup, a
    background job): tests that send this process SIGINT need it."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)
