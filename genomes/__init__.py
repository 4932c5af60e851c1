"""Genome families: pure data and variation (numpy at import; no torch). AutoML-Zero's batch mutation and
batch dead-code pass call their Numba kernels in ``evonas.kernels``, imported on first use."""

from __future__ import annotations

from typing import Any

from .amoeba import AmoebaGenome, AmoebaSpace
from .automl_zero import ProgramGenome, ProgramSpace
from .base import Diagram, Genome, InvalidGenome, Mutation, Space
from .bitstring import BitGenome, BitSpace
from .motifs import MotifGenome, MotifSpace
from .neat import NeatGenome, NeatSpace

#: Genome class of every family, for parsing lineage and checkpoint rows.
GENOMES: dict[str, Any] = {AmoebaGenome.kind: AmoebaGenome, BitGenome.kind: BitGenome, ProgramGenome.kind: ProgramGenome, NeatGenome.kind: NeatGenome, MotifGenome.kind: MotifGenome}

#: Space class of every genome family, by the name used on the command line and in lineage rows.
SPACES: dict[str, Any] = {
    AmoebaSpace.kind: AmoebaSpace,
    BitSpace.kind: BitSpace,
    ProgramSpace.kind: ProgramSpace,
    NeatSpace.kind: NeatSpace,
    MotifSpace.kind: MotifSpace,
}

__all__ = ["GENOMES", "SPACES", "AmoebaGenome", "AmoebaSpace", "BitGenome", "BitSpace", "Diagram", "Genome", "InvalidGenome", "MotifGenome", "MotifSpace", "Mutation", "NeatGenome", "NeatSpace", "ProgramGenome", "ProgramSpace", "Space"]
