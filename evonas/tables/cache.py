"""Where converted benchmark tables live, and how a damaged copy is told from a good one.

A table is converted once from its package's file into ``<cache>/tables/<name>.npz`` beside a JSON record of the
npz's SHA-256 and the source file's; a later load checks both and converts again when either disagrees, so an
edited or truncated cache can never give a wrong number. The cache folder is ``$EVONAS_CACHE_DIR``, else
``$XDG_CACHE_HOME/evonas``, else ``~/.cache/evonas``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: Bumped when the conversion changes, so caches made by older code are converted again.
FORMAT = 1


def cache_dir() -> Path:
    """The folder evonas keeps converted data in."""
    if os.environ.get("EVONAS_CACHE_DIR"):
        return Path(os.environ["EVONAS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "evonas"


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def cached_arrays(name: str, source_sha: str, convert: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays of table ``name``: from the cache when its checksums hold, else from ``convert()`` (then cached).
    A cache that cannot be written (a read-only home) is skipped with a note; the arrays are still returned."""
    folder = cache_dir() / "tables"
    data_path, record_path = folder / f"{name}.npz", folder / f"{name}.json"
    try:
        record = json.loads(record_path.read_text())
        blob = data_path.read_bytes()
        if record == {"format": FORMAT, "npz_sha256": sha256(blob), "source_sha256": source_sha}:
            with np.load(io.BytesIO(blob)) as npz:
                return {k: npz[k] for k in npz.files}
        print(f"evonas: the cached table {data_path} does not match its checksum; converting it again", file=sys.stderr)
    except (OSError, ValueError):
        pass  # not cached yet, or unreadable: convert
    arrays = convert()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    blob = buffer.getvalue()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path, content in ((data_path, blob), (record_path, json.dumps({"format": FORMAT, "npz_sha256": sha256(blob), "source_sha256": source_sha}).encode())):
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(content)
            os.replace(tmp, path)  # atomic: a reader sees the old file or the new one, never half of one
    except OSError as exc:
        print(f"evonas: cannot cache the table in {folder} ({exc}); set EVONAS_CACHE_DIR to a writable folder", file=sys.stderr)
    return arrays
