"""The AutoML-Zero experiment protocol ([C] run_search_experiment.cc; specs/automl_zero.md §10).

Each experiment is a full search (its own run folder ``experiment-NNNN/``) on freshly seeded search tasks,
stopped by the train-step budget. Its candidate (the fittest of the final population) is scored on freshly
seeded selection tasks; the best candidate so far is kept (an equal score replaces it). Experiments repeat
until the kept candidate's selection fitness exceeds the threshold; it is then scored once on unseen tasks
with fixed seeds.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from evonas.capabilities import CountsTrainSteps
from evonas.config import RunConfig
from evonas.errors import UserError
from evonas.plugins import check_trusted
from evonas.recording import genome_json
from evonas.rng import derive_seed
from evonas.run import Run
from evonas.store import atomic_write_bytes
from evonas.warm_up import warm_up

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
    from evonas.registry import make_task

    options = {**config.task_options, **part, "task_seed": task_seed, "fec": False}
    return float(make_task(config.task, options, fresh=True).evaluate(genome, seed)[0])


def _save(folder: Path, state: dict[str, Any]) -> None:
    atomic_write_bytes(folder / PROTOCOL_FILE, json.dumps(state, indent=2).encode())


def best_experiment(folder: Path) -> Path:
    """The experiment folder of an AutoML-Zero protocol that holds its best candidate so far."""
    state = load(folder)
    if not state.get("best"):
        raise UserError(f"{folder} holds an experiment protocol with no finished experiment yet; report on one of its experiment-NNNN folders")
    return folder / f"experiment-{int(state['best']['experiment']):04d}"


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
        state = json.loads((folder / PROTOCOL_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{folder / PROTOCOL_FILE} is damaged ({exc}); restore it or start a new run") from None
    config = state.get("config", {}) if isinstance(state, dict) else {}
    check_trusted([config.get("task"), config.get("strategy")], folder / PROTOCOL_FILE)  # before anything imports them
    return state  # type: ignore[no-any-return]


def _outcome(run_: Run, index: int, seconds: float) -> dict[str, Any]:
    """What the protocol keeps of a finished experiment: its candidate (the fittest of the final population,
    first in age order among equals, as [C]) and its counts."""
    population = run_.strategy.population_members()
    scored = [m for m in population if m.fitness == m.fitness]
    if not scored:
        raise UserError(f"experiment {index} produced no scored individual; see {run_.run_dir}/lineage")
    candidate = max(scored, key=lambda m: m.fitness)
    task = run_.executor.task if run_.executor is not None else None
    return {
        "experiment": index, "candidate_id": candidate.id, "search_fitness": candidate.fitness,
        "individuals": run_.strategy.told, "seconds": round(seconds, 3),
        "train_steps": task.train_steps if isinstance(task, CountsTrainSteps) else None,
        "genome": json.loads(genome_json(candidate.genome)), "eval_seed": run_.seed_of(candidate.id),
    }


def _open_experiment(folder: Path, config: RunConfig, index: int) -> Run:
    exp_dir = folder / f"experiment-{index:04d}"
    return Run.open(exp_dir) if (exp_dir / "config.json").exists() else Run.create(exp_dir, experiment_config(config, index))


def _fold(folder: Path, state: dict[str, Any], config: RunConfig, outcome: dict[str, Any], space: Any, echo: Any) -> None:
    """Score an experiment's candidate on its selection tasks, keep the best, and decide whether to stop."""
    protocol = config.protocol or {}
    threshold = float(protocol.get("threshold", 0.9999))
    index = outcome["experiment"]
    genome = space.genome_from_dict(outcome["genome"])
    select = _score(config, genome, protocol["select"], derive_seed(config.seed, PURPOSE_SELECT_TASKS, index), outcome["eval_seed"])
    record = {k: outcome[k] for k in ("experiment", "candidate_id", "search_fitness")}
    record.update(select_fitness=select, **{k: outcome[k] for k in ("individuals", "seconds", "train_steps")})
    state["history"].append(record)
    echo(f"experiment {index}: search fitness {outcome['search_fitness']:.6f}, select fitness {select:.6f}, {outcome['individuals']} individuals")
    if state["best"] is None or select >= state["best"]["select_fitness"]:
        state["best"] = {**record, "genome": outcome["genome"]}
    state["experiment"] = index + 1
    solved = state["best"]["select_fitness"] > threshold
    if solved or (state["max_experiments"] and index >= state["max_experiments"]):
        best = space.genome_from_dict(state["best"]["genome"])
        state["final"] = {"solved": solved, "final_fitness": _score(config, best, protocol["final"], FINAL_TASK_SEED, FINAL_TASK_SEED)}
    _save(folder, state)


def run(folder: Path, state: dict[str, Any], execute: Any, echo: Any, parallel: int = 1, progress: bool = False) -> dict[str, Any]:
    """Run experiments until one passes selection (or ``max_experiments``), then the final evaluation.

    ``execute(run)`` runs one experiment's search to its budget; ``echo`` prints a line. With ``parallel`` > 1
    that many experiments run at once (one in a thread here, the others in processes: see ``_run_parallel``),
    printing plain progress lines when ``progress``; the outcome is the same.
    """
    config = RunConfig(**state["config"])
    if parallel > 1 and state["final"] is None:
        return _run_parallel(folder, state, config, parallel, echo, progress)
    while state["final"] is None:
        index = state["experiment"]
        started = time.perf_counter()
        run_ = _open_experiment(folder, config, index)
        execute(run_)
        _fold(folder, state, config, _outcome(run_, index, time.perf_counter() - started), run_.strategy.space, echo)
    return state


def _run_experiment(folder: str, config_json: str, index: int, send: Any, progress: bool, stop: Any = None) -> None:
    """One experiment in its own process or in a thread of this one, numba on one thread; ``stop`` (an event)
    stops it as SIGTERM would; sends back ("ok", outcome), ("stopped", None) or an error."""
    import numba

    from evonas.executors import make_executor
    from evonas.progress import Progress

    numba.set_num_threads(1)
    try:
        started = time.perf_counter()
        run_ = _open_experiment(Path(folder), RunConfig.from_json(config_json), index)
        run_.stop_event = stop
        executor = make_executor(run_.config.task, run_.config.task_options, run_.config.seed, 1)
        display = Progress(run_.config.cycles, run_.strategy.told, enabled=progress, interval=15.0, prefix=f"experiment {index}: ", live=False)
        try:
            run_.execute(executor, display)
        finally:
            executor.close()
        send.send(("ok", _outcome(run_, index, time.perf_counter() - started)))
    except KeyboardInterrupt:  # SIGINT or SIGTERM: the experiment has checkpointed
        send.send(("stopped", None))
    except UserError as exc:
        send.send(("error", str(exc)))
    except Exception as exc:  # noqa: BLE001 - reported in the parent, with the experiment's name
        send.send(("error", f"experiment {index} failed: {type(exc).__name__}: {exc}"))
    finally:
        send.close()


class _Experiment:
    """One experiment of the parallel protocol, run by a thread of this process or by a spawned process, with a
    stop event that its run polls after each batch: ``stop`` ends it with a checkpoint, as SIGTERM would, but
    also when it is still starting up (a signal would kill a process still importing, before it checkpoints)."""

    GRACE_SECONDS = 30.0  # a process still in a long evaluation gets SIGTERM after this

    def __init__(self, args: tuple[Any, ...], context: Any = None) -> None:
        self.in_thread = context is None
        if self.in_thread:
            self.stop_event: Any = threading.Event()
            self.worker: Any = threading.Thread(target=_run_experiment, args=(*args, self.stop_event), daemon=True)
        else:
            self.stop_event = context.Event()
            self.worker = context.Process(target=_run_experiment, args=(*args, self.stop_event))

    @property
    def where(self) -> str:
        """Where it runs, for the progress lines."""
        return "in this process" if self.in_thread else f"process {self.worker.pid}"

    @property
    def exitcode(self) -> int | None:
        """The process's exit code (None for a thread or a live process)."""
        return None if self.in_thread else self.worker.exitcode

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        """Ask it to stop, then wait until it has (a process that does not stop in ``GRACE_SECONDS`` gets SIGTERM)."""
        self.stop_event.set()
        if self.in_thread:
            self.worker.join()
            return
        self.worker.join(self.GRACE_SECONDS)
        if self.worker.is_alive():
            self.worker.terminate()
        self.worker.join()

    def join(self) -> None:
        self.worker.join()


def _run_parallel(folder: Path, state: dict[str, Any], config: RunConfig, parallel: int, echo: Any, progress: bool) -> dict[str, Any]:
    """Experiments ``k .. k+parallel-1`` run at once and are folded strictly in index order, so the kept
    candidate, the history and the stopping point are those of the one-at-a-time protocol. One experiment at a
    time runs in a thread of this process, which waits on the others anyway (so it needs no process start, about
    a second each); the others run in spawned processes.

    An experiment started beyond the one that ends the protocol is stopped (its stop event: it checkpoints) and
    left in its folder, listed under ``abandoned``; none of its results count.
    """
    import multiprocessing

    from evonas.registry import SPACES

    space = SPACES[config.genome].from_dict(config.space)
    context = multiprocessing.get_context("spawn")
    running: dict[int, tuple[Any, Any]] = {}
    next_index = state["experiment"]
    limit = state["max_experiments"] or None
    text = config.to_json()
    # Compile here first: experiments started at once would otherwise each compile the same kernels.
    warm_up(experiment_config(config, 0), echo)
    restore = None
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        restore = signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops the thread's run with a checkpoint too
    try:
        while state["final"] is None:
            while len(running) < parallel and (limit is None or next_index <= limit):
                receive, send = context.Pipe(duplex=False)
                in_thread = not any(experiment.in_thread for experiment, _ in running.values())
                experiment = _Experiment((str(folder), text, next_index, send, progress), None if in_thread else context)
                experiment.start()
                if not in_thread:
                    send.close()  # the child holds its end; the thread's end is closed by _run_experiment
                running[next_index] = (experiment, receive)
                echo(f"experiment {next_index}: started ({experiment.where})")
                next_index += 1
            index = state["experiment"]
            experiment, receive = running.pop(index)
            try:
                status, payload = receive.recv()
            except EOFError:  # the process ended without a word: killed, or crashed in native code
                status, payload = "error", None
            experiment.join()
            if payload is None and status == "error":
                payload = f"experiment {index}'s process died (exit code {experiment.exitcode})"
            if status == "stopped":
                raise KeyboardInterrupt
            if status != "ok":
                raise UserError(f"{payload}; fix the cause and continue with 'evonas resume {folder}'")
            _fold(folder, state, config, payload, space, echo)
    finally:
        for index, (experiment, _) in sorted(running.items()):
            experiment.stop()
            if state["final"] is not None:
                state.setdefault("abandoned", []).append(index)
                echo(f"experiment {index}: stopped, not needed (its folder is kept)")
        if state.get("abandoned"):
            _save(folder, state)
        if restore is not None:
            signal.signal(signal.SIGTERM, restore)
    return state
