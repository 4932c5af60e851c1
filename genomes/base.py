"""The genome protocol every family implements (see DESIGN.md, "Genomes")."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np


class InvalidGenome(ValueError):
    """Raised by ``validate()`` and ``from_dict()`` when a genome breaks its family's rules."""


@dataclass(frozen=True, slots=True)
class Mutation:
    """What one variation step did, as written to the lineage's ``mutation`` column."""

    kind: str
    detail: str = ""
    text: str = field(init=False, repr=False, compare=False)  # the column's text, made once: a lineage writes it per child

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", f"{self.kind}: {self.detail}" if self.detail else self.kind)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Diagram:
    """A graph drawing of (part of) a genome for reports: named nodes and labelled edges (source, target, label)."""

    title: str
    nodes: tuple[str, ...]
    edges: tuple[tuple[int, int, str], ...]


@runtime_checkable
class Genome(Protocol):
    """An immutable genotype with an exact JSON form, a validator, a fingerprint and a lowering."""

    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]: ...

    def validate(self) -> None: ...

    def fingerprint(self) -> str: ...

    def lower(self) -> Any: ...


@runtime_checkable
class Space(Protocol):
    """A frozen, serialisable search-space config that creates and varies genomes."""

    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]: ...

    def initial(self, rng: np.random.Generator) -> Genome: ...

    def random(self, rng: np.random.Generator) -> Genome: ...

    def mutate(self, genome: Genome, rng: np.random.Generator) -> tuple[Genome, Mutation]: ...

    def genome_from_dict(self, data: dict[str, Any]) -> Genome: ...


def canonical_hash(data: Any) -> str:
    """Return a short stable hash of JSON-safe data, used for fingerprints and config hashes."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def expect(condition: bool, reason: str) -> None:
    """Raise ``InvalidGenome(reason)`` unless ``condition`` holds."""
    if not condition:
        raise InvalidGenome(reason)
