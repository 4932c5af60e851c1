"""What a checkpoint holds (the strategy's state, its members' genomes, the task's state, in-flight candidates,
the run's counters) and how a run's state is restored from one. Checkpoints are taken after a tell, so a
resumed run never evaluates again what it already told."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evonas import __version__
from evonas.config import RunConfig, build_strategy
from evonas.core import Candidate, Member
from evonas.errors import UserError
from evonas.genomes.base import InvalidGenome, Mutation
from evonas.recording import genome_json
from evonas.run_folder import CHECKPOINT_FILE, CONFIG_FILE, reconcile_lineage, write_config
from evonas.store import Checkpoint, read_checkpoint, write_checkpoint
from evonas.strategies import Strategy


@dataclass
class Counters:
    """The run's own figures that a checkpoint keeps beside the strategy's state."""

    elapsed_seconds: float = 0.0
    failed: int = 0
    next_part: int = 1  # the number of the next lineage part file
    best_logged: float = -math.inf  # the best fitness logged so far (compact lineage keeps new bests whole)
    solved_id: int | None = None  # the first individual that met the task's success criterion

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (the checkpoint's counters)."""
        return {"elapsed_seconds": self.elapsed_seconds, "failed": self.failed, "next_part": self.next_part,
                "best_logged": self.best_logged if math.isfinite(self.best_logged) else None, "solved_id": self.solved_id}


@dataclass
class Restored:
    """A run's state read back from its folder."""

    strategy: Strategy
    counters: Counters
    task_state: Any = None
    pending: list[Candidate] = field(default_factory=list)


def save(run_dir: Path, strategy: Strategy, counters: Counters, task_state: Any, pending: list[Candidate], config_hash: str) -> None:
    """Write the checkpoint atomically: strategy state, the genomes it refers to, task state, in-flight candidates."""
    members = {m.id: m for m in strategy.members()}
    rows = [(m.id, m.fitness, genome_json(m.genome)) for m in members.values()]
    state = strategy.state_dict()
    if task_state is not None:
        state["task"] = task_state
    if pending:
        state["pending"] = [candidate_to_dict(c) for c in pending]
    write_checkpoint(run_dir / CHECKPOINT_FILE, Checkpoint(state, counters.to_dict(), rows, config_hash), __version__)


def restore(run_dir: Path, config: RunConfig, cycles: int | None) -> Restored:
    """The run's state at its checkpoint, checked against config.json and the lineage (rows newer than it are
    set aside), with a new budget ``cycles`` where given; every problem is a UserError raised before any file
    changes."""
    checkpoint = read_checkpoint(run_dir / CHECKPOINT_FILE)
    if checkpoint.config_hash != config.identity_hash():
        raise UserError(
            f"{run_dir / CONFIG_FILE} no longer matches the checkpoint (config hash {config.identity_hash()} != "
            f"{checkpoint.config_hash}); undo the edit or start a new run with 'evonas evolve'"
        )
    told = int(checkpoint.state["told"])
    counted = told - int(checkpoint.state.get("free_rejections", 0))  # rejections that used up no budget do not count
    if cycles is not None and cycles < counted:
        raise UserError(f"--cycles {cycles} is below the {counted} evaluations already done; give at least {counted}")
    if cycles is not None:
        config.cycles = cycles
    strategy = build_strategy(config)
    space = strategy.space
    members: dict[int, Member] = {}
    try:
        for ident, fitness, text in checkpoint.members:
            members[ident] = Member(ident, fitness, space.genome_from_dict(json.loads(text)))
        strategy.load_state_dict(checkpoint.state, members)
        pending = [candidate_from_dict(item, space) for item in checkpoint.state.get("pending", [])]
    except (InvalidGenome, KeyError, ValueError, TypeError) as exc:
        raise UserError(f"checkpoint in {run_dir} is corrupted ({exc}); restore it from a backup or start a new run") from None
    strategy.budget = config.cycles + strategy.free_rejections  # rejections that used up no budget extended it
    next_id = int(checkpoint.state.get("next_id", told))
    next_part = reconcile_lineage(run_dir, told, [m.id for m in members.values()], next_id, {c.id for c in pending}, config.identity_hash())
    if cycles is not None:  # written only once the checkpoint and the lineage have been accepted
        write_config(run_dir, config)
    saved = checkpoint.counters
    logged, solved = saved.get("best_logged"), saved.get("solved_id")
    counters = Counters(float(saved.get("elapsed_seconds", 0.0)), int(saved.get("failed", 0)), next_part,
                        -math.inf if logged is None else float(logged), None if solved is None else int(solved))
    return Restored(strategy, counters, checkpoint.state.get("task"), pending)


def candidate_to_dict(candidate: Candidate) -> dict[str, Any]:
    """JSON form of an in-flight candidate (for the checkpoint of an asynchronous run)."""
    mutation = candidate.mutation
    return {
        "id": candidate.id, "parent_id": candidate.parent_id, "second_parent_id": candidate.second_parent_id,
        "birth": candidate.birth, "genome": candidate.genome.to_dict(),
        "mutation": None if mutation is None else [mutation.kind, mutation.detail],
    }


def candidate_from_dict(data: dict[str, Any], space: Any) -> Candidate:
    """Inverse of ``candidate_to_dict``."""
    mutation = data["mutation"]
    return Candidate(
        int(data["id"]), data["parent_id"], data["second_parent_id"], int(data["birth"]), space.genome_from_dict(data["genome"]),
        None if mutation is None else Mutation(str(mutation[0]), str(mutation[1])),
    )


