"""What every benchmark shares: progress lines on stderr and the machine's description in the JSON."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any


def log(message: str) -> None:
    """A progress line on stderr (stdout carries only the JSON)."""
    print(message, file=sys.stderr, flush=True)


def machine_info() -> dict[str, Any]:
    """CPU model, core count, GPU (if torch sees one) and library versions."""
    import numba
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "gpu": gpu, "torch": torch.__version__, "numba": numba.__version__, "python": platform.python_version()}
