"""Rows of categorical choices: the shape shared by tabular benchmark spaces (NAS-Bench-Graph, NAS-Bench-201).

A genome of such a space is a fixed row of small integers, one per position (a link pattern, an edge's op);
its *code* packs the row into one integer (mixed radix, position 0 most significant), which is both the
key into a benchmark's table and what the compiled search loop keeps. A space restricts each position to
some values and may forbid whole rows (NAS-Bench-Graph has no all-skip network); ``ChoiceRules`` holds
that as arrays the mutation kernel (``kernels/choice_mutate.py``) reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .base import Mutation, expect


@dataclass(frozen=True)
class ChoiceLayout:
    """The positions of a choice row and how many values each may take."""

    positions: tuple[str, ...]  # a name per position, as the mutation column writes it
    radices: tuple[int, ...]

    @property
    def size(self) -> int:
        """Number of distinct rows (codes run from 0 to size - 1)."""
        return int(np.prod(self.radices))

    @property
    def places(self) -> tuple[int, ...]:
        """The weight of each position in a code."""
        out, weight = [], 1
        for radix in reversed(self.radices):
            out.append(weight)
            weight *= radix
        return tuple(reversed(out))

    def encode(self, values: tuple[int, ...]) -> int:
        """The code of a row."""
        code = 0
        for value, radix in zip(values, self.radices):
            code = code * radix + value
        return code

    def decode(self, code: int) -> tuple[int, ...]:
        """The row of a code."""
        values = []
        for radix in reversed(self.radices):
            code, value = divmod(code, radix)
            values.append(value)
        return tuple(reversed(values))

    def decode_many(self, codes: np.ndarray) -> np.ndarray:
        """Rows of many codes, one row per code (int64 matrix)."""
        codes = np.asarray(codes, dtype=np.int64)
        out = np.empty((len(codes), len(self.radices)), dtype=np.int64)
        for k, place in enumerate(self.places):
            out[:, k] = (codes // place) % self.radices[k]
        return out


@dataclass(frozen=True)
class ChoiceRules:
    """What a space allows: ``allowed[p, v]`` (value v at position p) and ``valid[code]`` (a whole row); the arrays the
    mutation kernel and the compiled search loop read."""

    layout: ChoiceLayout
    allowed: np.ndarray  # bool, positions x the largest radix
    valid: np.ndarray  # bool, one per code: every value allowed and the row not forbidden
    candidates: np.ndarray = field(init=False)  # the valid codes, ascending (uniform random rows draw from them)

    tables: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = field(init=False)  # what ``kernel_tables`` returns

    def __post_init__(self) -> None:
        object.__setattr__(self, "candidates", np.flatnonzero(self.valid).astype(np.int64))
        if not len(self.candidates):
            raise ValueError("the space allows no genome at all")
        # made once: every mutation call passes them to the kernel
        object.__setattr__(self, "tables", (np.array(self.layout.radices, dtype=np.int64), np.array(self.layout.places, dtype=np.int64),
                                            self.allowed, self.valid))

    @classmethod
    def build(cls, layout: ChoiceLayout, allowed_values: list[list[int]], forbidden: Any = None) -> ChoiceRules:
        """Rules from the values allowed per position and an optional ``forbidden(rows) -> bool array`` over decoded rows."""
        width = max(layout.radices)
        allowed = np.zeros((len(layout.radices), width), dtype=np.bool_)
        for p, values in enumerate(allowed_values):
            allowed[p, values] = True
        rows = layout.decode_many(np.arange(layout.size))
        valid = allowed[np.arange(len(layout.radices))[None, :], rows].all(axis=1)
        if forbidden is not None:
            valid &= ~np.asarray(forbidden(rows), dtype=np.bool_)
        return cls(layout, allowed, valid)

    def kernel_tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(radices, places, allowed, valid) as the kernels take them."""
        return self.tables

    def random_codes(self, uniforms: np.ndarray) -> np.ndarray:
        """Uniformly random valid codes, one per uniform in [0, 1)."""
        picks = np.minimum((np.asarray(uniforms) * len(self.candidates)).astype(np.int64), len(self.candidates) - 1)
        return self.candidates[picks]  # type: ignore[no-any-return]

    def mutate_codes(self, codes: np.ndarray, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Children of ``codes``, child k from the 64-bit stream ``seeds[k]``: one position changed to another allowed
        value, redrawn until the row is valid. Returns the child codes and each child's (position, old, new) as an
        n x 3 matrix (position -1: the parent had no valid neighbour and is returned unchanged)."""
        from evonas.kernels.choice_mutate import mutate_codes

        codes = np.ascontiguousarray(codes, dtype=np.int64)
        children = np.empty(len(codes), dtype=np.int64)
        changes = np.empty((len(codes), 3), dtype=np.int64)
        mutate_codes(codes, np.ascontiguousarray(seeds, dtype=np.uint64), *self.kernel_tables(), children, changes)
        return children, changes


class MutationTexts:
    """The ``Mutation`` of each (position, old, new) change, made once per distinct change: a search makes the same
    few hundred over and over, and the lineage stores them as a coded column."""

    def __init__(self, layout: ChoiceLayout, make: Any) -> None:
        self.layout = layout
        self.make = make  # (position, old, new) -> the Mutation that change is
        self.width = max(layout.radices)
        self._made: dict[int, Mutation] = {}

    def key(self, changes: np.ndarray) -> np.ndarray:
        """One integer per change row, the same for equal changes."""
        w = self.width
        return (changes[:, 0] + 1) * w * w + changes[:, 1] * w + changes[:, 2]  # type: ignore[no-any-return]

    def of(self, position: int, old: int, new: int) -> Mutation:
        """The mutation that changed ``position`` from ``old`` to ``new``."""
        w = self.width
        k = (position + 1) * w * w + old * w + new
        made = self._made.get(k)
        if made is None:
            made = Mutation("none", "no valid neighbour") if position < 0 else self.make(position, old, new)
            self._made[k] = made
        return made

    def coded(self, changes: np.ndarray) -> tuple[np.ndarray, list[Mutation]]:
        """The changes as positions into their distinct mutations (what a ``Brood`` holds)."""
        keys, index = np.unique(self.key(changes), return_inverse=True)
        w = self.width
        mutations = [self.of(int(k // (w * w)) - 1, int(k // w % w), int(k % w)) for k in keys.tolist()]
        return index.astype(np.int64), mutations


class ChoiceRowSpace:
    """What the spaces of choice-row genomes share (creation, mutation, JSON); a subclass is a frozen dataclass with
    an ``ops`` field (the op names it allows), sets ``genome_type`` (with ``from_dict``, ``from_code``, ``code`` and
    ``ops`` as indices into ``vocabulary``) and gives ``rules`` and ``mutation_texts``."""

    genome_type: ClassVar[Any]
    vocabulary: ClassVar[tuple[str, ...]]
    ops: tuple[str, ...]

    @property
    def rules(self) -> ChoiceRules:
        """The allowed rows as the kernels read them."""
        raise NotImplementedError

    def mutation_texts(self) -> MutationTexts:
        """The mutation column's text of each change."""
        raise NotImplementedError

    def _check_ops(self) -> tuple[str, ...]:
        """Store ``ops`` as a tuple and refuse unknown or repeated names (subclasses call it in ``__post_init__``)."""
        ops = tuple(self.ops)
        object.__setattr__(self, "ops", ops)
        unknown = [o for o in ops if o not in self.vocabulary]
        if unknown:
            raise ValueError(f"unknown op {unknown[0]!r}; ops are {', '.join(self.vocabulary)}")
        if len(set(ops)) != len(ops):
            raise ValueError(f"ops must be distinct, got {list(ops)}")
        return ops

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe config."""
        return {"ops": list(self.ops)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """Inverse of ``to_dict``."""
        return cls(**{**data, **({"ops": tuple(data["ops"])} if "ops" in data else {})})

    def genome_from_dict(self, data: dict[str, Any]) -> Any:
        """Parse a genome and check its ops are this space's."""
        genome = self.genome_type.from_dict(data)
        outside = [self.vocabulary[o] for o in genome.ops if self.vocabulary[o] not in self.ops]
        expect(not outside, f"op {outside[0]!r} is not in this space's ops {list(self.ops)}" if outside else "")
        return genome

    def random(self, rng: np.random.Generator) -> Any:
        """A uniformly random genome of the space."""
        return self.genome_type.from_code(int(self.rules.random_codes(rng.random(1))[0]))

    def initial(self, rng: np.random.Generator) -> Any:
        """Initial genomes are uniformly random."""
        return self.random(rng)

    def mutate(self, genome: Any, rng: np.random.Generator) -> tuple[Any, Mutation]:
        """One choice changed (see ``mutate_many``; the stream seed is drawn from ``rng``)."""
        return self.mutate_many([genome], rng.integers(0, 1 << 63, size=1, dtype=np.uint64))[0]

    def mutate_many(self, parents: list[Any], seeds: np.ndarray) -> list[tuple[Any, Mutation]]:
        """Child k of ``parents[k]`` from the 64-bit stream ``seeds[k]`` in one compiled call."""
        if not parents:
            return []
        children, changes = self.rules.mutate_codes(np.fromiter((p.code for p in parents), np.int64, len(parents)), seeds)
        texts = self.mutation_texts()
        make = self.genome_type.from_code
        return [(make(c), texts.of(*ch)) for c, ch in zip(children.tolist(), changes.tolist())]

    def genome_of_code(self, code: int) -> Any:
        """The genome of a packed row (the compiled loop's children)."""
        return self.genome_type.from_code(code)
