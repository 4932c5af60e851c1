"""Checksums of lineage parts. Each part file ``part-NNNNNN.arrow`` has a seal beside it,
``_part-NNNNNN.arrow.json``: the SHA-256 and size of the file's bytes, its row count and the first and last id it
holds. The seal is written (atomically) before the part is renamed into place, so a part in ``lineage/`` always
has its seal, except in folders written before seals existed, which read as unverified.

The leading underscore keeps the seals out of Arrow dataset discovery (``pyarrow.dataset`` skips names starting
with ``_`` or ``.``), so ``lineage/`` still opens as a dataset of parts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from evonas.errors import UserError

SEAL_PREFIX = "_"
SEAL_SUFFIX = ".json"


@dataclass(frozen=True)
class Seal:
    """What a part must be: its bytes' digest and size, its rows and the ids at its two ends (-1 when empty)."""

    sha256: str
    size: int
    rows: int
    first_id: int
    last_id: int


def seal_path(part: Path) -> Path:
    """Where the seal of ``part`` lives."""
    return part.with_name(SEAL_PREFIX + part.name + SEAL_SUFFIX)


def seal_of(data: bytes, ids: list[int]) -> Seal:
    """The seal of a part with these bytes holding rows with these ids."""
    return Seal(hashlib.sha256(data).hexdigest(), len(data), *_rows_and_ends(ids))


def holds_rows(seal: Seal, ids: list[int]) -> bool:
    """Whether a part whose bytes passed ``seal`` holds the rows it names (count and the ids at both ends)."""
    return (seal.rows, seal.first_id, seal.last_id) == _rows_and_ends(ids)


def _rows_and_ends(ids: list[int]) -> tuple[int, int, int]:
    return len(ids), ids[0] if ids else -1, ids[-1] if ids else -1


def seal_bytes(seal: Seal) -> bytes:
    """The seal as the bytes of its file."""
    return json.dumps(asdict(seal), sort_keys=True).encode()


def read_seal(part: Path) -> Seal | None:
    """The seal of ``part``; None when it has none (a folder from before seals); a one-line ``UserError`` when the
    seal itself is damaged."""
    path = seal_path(part)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_bytes())
        seal = Seal(str(data["sha256"]), int(data["size"]), int(data["rows"]), int(data["first_id"]), int(data["last_id"]))
        if set(data) != set(asdict(seal)) or len(seal.sha256) != 64:
            raise ValueError("unexpected fields")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"the checksum file {path} is damaged ({type(exc).__name__}); restore it from a backup, or move it and "
                        f"{part.name} out of lineage/ to keep the other parts") from None
    return seal


def damaged(part: Path, why: str) -> UserError:
    """The one-line error for a part that fails its seal."""
    return UserError(f"lineage part {part} is damaged ({why}); restore it from a backup, or move it (and its "
                     f"{seal_path(part).name}) out of lineage/ to keep the rest; 'evonas lineage RUN --verify' checks every part")
