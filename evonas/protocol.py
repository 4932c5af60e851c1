"""The AutoML-Zero experiment protocol ([C] run_search_experiment.cc; specs/automl_zero.md §10).

Each experiment is a full search (its own run folder ``experiment-NNNN/``) on freshly seeded search tasks,
stopped by the train-step budget. Its candidate (the fittest of the final population) is scored on freshly
seeded selection tasks; the best candidate so far is kept (an equal score replaces it). Experiments repeat
until the kept candidate's selection fitness exceeds the threshold; it is then scored once on unseen tasks
with fixed seeds.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from evonas.errors import UserError
from evonas.rng import derive_seed
from evonas.run import Run, RunConfig, genome_json
from evonas.store import atomic_write_bytes

PROTOCOL_FILE = "protocol.json"
FINAL_TASK_SEED = 1_000_000  # fixed, as [C]'s final tasks (data seed 1,000,000)
PURPOSE_EXPERIMENT, PURPOSE_SEARCH_TASKS, PURPOSE_SELECT_TASKS = 21, 22, 23


def is_protocol_folder(path: Path) -> bool:
    """True for a folder made by the protocol (it holds protocol.json)."""
    return (path / PROTOCOL_FILE).exists()


def experiment_config(config: RunConfig, index: int) -> RunConfig:
    """The config of experiment ``index``: its own run seed and freshly seeded search tasks."""
    options = {**config.task_options, "task_seed": derive_seed(config.seed, PURPOSE_SEARCH_TASKS, index)}
    return replace(config, seed=derive_seed(config.seed, PURPOSE_EXPERIMENT, index), task_options=options, protocol=None)


def _score(config: RunConfig, genome: Any, part: dict[str, Any], task_seed: int, seed: int) -> float:
    from evonas.tasks import make_task

    options = {**config.task_options, **part, "task_seed": task_seed, "fec": False}
    return float(make_task(config.task, options, fresh=True).evaluate(genome, seed)[0])


def _save(folder: Path, state: dict[str, Any]) -> None:
    atomic_write_bytes(folder / PROTOCOL_FILE, json.dumps(state, indent=2).encode())


def start(folder: Path, config: RunConfig, max_experiments: int) -> dict[str, Any]:
    """Create the protocol folder; refuses one that already holds a run."""
    if (folder / PROTOCOL_FILE).exists() or (folder / "config.json").exists():
        raise UserError(f"{folder} already holds a run; continue it with 'evonas resume {folder}' or pick another --out")
    folder.mkdir(parents=True, exist_ok=True)
    state = {"config": asdict(config), "max_experiments": max_experiments, "experiment": 1, "best": None, "history": [], "final": None}
    _save(folder, state)
    return state


def load(folder: Path) -> dict[str, Any]:
    """Read protocol.json with a clear error when it is damaged."""
    try:
        return json.loads((folder / PROTOCOL_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{folder / PROTOCOL_FILE} is damaged ({exc}); restore it or start a new run") from None


def run(folder: Path, state: dict[str, Any], execute: Any, echo: Any) -> dict[str, Any]:
    """Run experiments until one passes selection (or ``max_experiments``), then the final evaluation.

    ``execute(run)`` runs one experiment's search to its budget; ``echo`` prints a line.
    """
    config = RunConfig(**state["config"])
    protocol = config.protocol or {}
    threshold = float(protocol.get("threshold", 0.9999))
    while state["final"] is None:
        index = state["experiment"]
        exp_dir = folder / f"experiment-{index:04d}"
        started = time.perf_counter()
        run_ = Run.open(exp_dir) if (exp_dir / "config.json").exists() else Run.create(exp_dir, experiment_config(config, index))
        execute(run_)
        population = list(getattr(run_.strategy, "population", [])) or ([run_.strategy.best] if run_.strategy.best else [])
        scored = [m for m in population if m.fitness == m.fitness]
        if not scored:
            raise UserError(f"experiment {index} produced no scored individual; see {exp_dir}/lineage")
        candidate = max(scored, key=lambda m: m.fitness)  # first of the maxima in age order, as [C]
        select = _score(config, candidate.genome, protocol["select"], derive_seed(config.seed, PURPOSE_SELECT_TASKS, index), run_.seed_of(candidate.id))
        record = {
            "experiment": index, "candidate_id": candidate.id, "search_fitness": candidate.fitness, "select_fitness": select,
            "individuals": run_.strategy.told, "seconds": round(time.perf_counter() - started, 3),
            "train_steps": getattr(run_.executor.task, "train_steps", None) if run_.executor is not None else None,
        }
        state["history"].append(record)
        echo(f"experiment {index}: search fitness {candidate.fitness:.6f}, select fitness {select:.6f}, {run_.strategy.told} individuals")
        if state["best"] is None or select >= state["best"]["select_fitness"]:
            state["best"] = {**record, "genome": json.loads(genome_json(candidate.genome))}
        state["experiment"] = index + 1
        solved = state["best"]["select_fitness"] > threshold
        if solved or (state["max_experiments"] and index >= state["max_experiments"]):
            genome = run_.strategy.space.genome_from_dict(state["best"]["genome"])
            state["final"] = {
                "solved": solved,
                "final_fitness": _score(config, genome, protocol["final"], FINAL_TASK_SEED, FINAL_TASK_SEED),
            }
        _save(folder, state)
    return state
