"""Bit strings: the noisy toy space of [RE] Supplement C, a fast real harness for the scheduler.

A genome is ``length`` bits; a mutation flips one uniformly chosen bit. The ``onemax`` task scores the
fraction of ones plus Gaussian noise, so aging vs non-aging evolution can be studied in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .base import InvalidGenome, Mutation, canonical_hash, expect


@dataclass(frozen=True, slots=True)
class BitGenome:
    """A fixed-length bit string held as a Python int (bit i is ``(value >> i) & 1``)."""

    value: int
    length: int
    kind: ClassVar[str] = "bitstring"

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the bits as a '0'/'1' string, bit 0 first."""
        return {"kind": self.kind, "bits": format(self.value, f"0{self.length}b")[::-1]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BitGenome:
        """Parse the JSON form; raises ``InvalidGenome`` on a wrong kind or a non-binary string."""
        if not isinstance(data, dict) or data.get("kind") != cls.kind:
            raise InvalidGenome("not a bitstring genome: expected kind 'bitstring'")
        bits = data.get("bits")
        expect(isinstance(bits, str) and len(bits) > 0 and set(bits) <= {"0", "1"}, "bits must be a non-empty 0/1 string")
        genome = cls(int(bits[::-1], 2), len(bits))
        genome.validate()
        return genome

    def validate(self) -> None:
        """Check the value fits in ``length`` bits."""
        expect(self.length >= 1, "a bit string needs at least one bit")
        expect(0 <= self.value < (1 << self.length), f"value does not fit in {self.length} bits")

    def fingerprint(self) -> str:
        """Hash of the bits."""
        return canonical_hash([self.length, self.value])

    def lower(self) -> np.ndarray:
        """The bits as a uint8 array (the IR a scoring kernel reads)."""
        return np.array([(self.value >> i) & 1 for i in range(self.length)], dtype=np.uint8)

    def ones(self) -> int:
        """Number of set bits."""
        return self.value.bit_count()

    def describe(self) -> str:
        """The bit string and its count of ones."""
        return f"{self.to_dict()['bits']} ({self.ones()}/{self.length} ones)"


@dataclass(frozen=True)
class BitSpace:
    """Bit strings of ``length`` bits; initial genomes are all zeros or uniformly random."""

    length: int = 100
    initial_zeros: bool = False
    kind: ClassVar[str] = "bitstring"

    def __post_init__(self) -> None:
        if self.length < 1:
            raise ValueError("length must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe config."""
        return {"length": self.length, "initial_zeros": self.initial_zeros}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BitSpace:
        """Inverse of ``to_dict``."""
        return cls(**data)

    def genome_from_dict(self, data: dict[str, Any]) -> BitGenome:
        """Parse a genome and check its length matches the space."""
        genome = BitGenome.from_dict(data)
        expect(genome.length == self.length, f"genome has {genome.length} bits, space has {self.length}")
        return genome

    def random(self, rng: np.random.Generator) -> BitGenome:
        """Uniformly random bits."""
        words = rng.integers(0, 1 << 62, size=(self.length + 61) // 62)
        value = 0
        for w in words.tolist():
            value = (value << 62) | w
        return BitGenome(value & ((1 << self.length) - 1), self.length)

    def initial(self, rng: np.random.Generator) -> BitGenome:
        """All zeros when ``initial_zeros``, else random."""
        return BitGenome(0, self.length) if self.initial_zeros else self.random(rng)

    def mutate(self, genome: BitGenome, rng: np.random.Generator) -> tuple[BitGenome, Mutation]:  # type: ignore[override]
        """Flip one uniformly chosen bit."""
        i = int(rng.random() * self.length)
        return BitGenome(genome.value ^ (1 << i), self.length), Mutation("flip", str(i))

    # -- as a sequence of decisions (a controller samples them in order) ------------------------------------
    def decision_types(self) -> list[tuple[str, int]]:
        """One binary decision per bit."""
        return [("bit", 2)] * self.length

    def choices_allowed(self, prefix: list[int]) -> int:
        """Every bit is 0 or 1."""
        return 2

    def to_choices(self, genome: BitGenome) -> list[int]:
        """The bits, bit 0 first."""
        return [(genome.value >> i) & 1 for i in range(self.length)]

    def from_choices(self, choices: list[int]) -> BitGenome:
        """The bit string of the decisions."""
        value = 0
        for i, bit in enumerate(choices):
            value |= int(bit) << i
        genome = BitGenome(value, self.length)
        genome.validate()
        return genome
