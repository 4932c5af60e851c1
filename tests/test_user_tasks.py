"""A user task written as docs/tasks.md says, in a folder outside the repo, runs with every genome kind it declares."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_helpers import run_cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "tasks.md"


def readme_example() -> tuple[str, list[list[str]]]:
    """The example task file and the commands that run it, exactly as docs/tasks.md prints them."""
    section = DOC.read_text()
    source = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    commands = re.search(r"```bash\n(.*?)```", section, re.S).group(1).strip().splitlines()
    return source, [line.split()[2:] for line in commands]  # drop "PYTHONPATH=. evonas"


@pytest.mark.parametrize("index", [0, 1])
def test_readme_task_runs_with_each_genome_kind_it_declares(tmp_path: Path, index: int) -> None:
    source, commands = readme_example()
    folder = tmp_path / "user-code"
    folder.mkdir()
    (folder / "boolean_tasks.py").write_text(source)
    args = commands[index]
    assert args[0] == "evolve"
    out = tmp_path / "run"
    result = run_cli(*args, "--seed", "1", "-q", "--out", str(out), cwd=folder, env={"PYTHONPATH": str(folder)})
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "boolean_tasks:BooleanFunction"
    assert config["genome"] == args[args.index("--genome") + 1]
    best = json.loads((out / "best.json").read_text())
    assert best["report"]["solved"] == 1.0  # every pattern within 0.5 of its target


def test_a_task_for_other_genome_kinds_is_refused(tmp_path: Path) -> None:
    source, _ = readme_example()
    (tmp_path / "boolean_tasks.py").write_text(source)
    result = run_cli("evolve", "--genome", "amoeba", "--task", "boolean_tasks:BooleanFunction", "-q", "--out", str(tmp_path / "r"),
                     cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode != 0 and "scores neat, bitstring genomes, not 'amoeba'" in result.stderr


PRESET_TASKS = '''
import numpy as np
from evonas.genomes.neat import activate_genomes
from evonas.tasks import Task


class Parity(Task):
    """Parity of n inputs; the NEAT layout follows the option, so the presets are set on the instance."""

    name = "parity"
    genome_kinds = ("neat", "bitstring")

    def __init__(self, inputs: int = 2) -> None:
        super().__init__(inputs=inputs)
        self.inputs = inputs
        self.genome_presets = {
            "neat": {"space": {"inputs": inputs, "outputs": 1, "bias": True, "feed_forward": True},
                     "population": 50, "cycles": 50 * 3, "batch": 50},
            "bitstring": {"space": {"length": 2 ** inputs}, "population": 8, "sample": 2, "cycles": 40},
        }

    def evaluate(self, genome, seed):
        return float(np.asarray(genome.lower()).sum()) if genome.kind == "bitstring" else 0.0, {}


class Misspelt(Task):
    name = "misspelt"
    genome_kinds = ("bitstring",)
    genome_presets = {"bitstring": {"populaton": 5}}

    def evaluate(self, genome, seed):
        return 0.0, {}
'''


def test_presets_come_from_the_instance_and_every_key_is_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Presets that depend on an option are read from an instance built with it; a bit-string task's population,
    sample and cycles are used (they were once overridden by the family's own preset)."""
    from evonas.config import RunOptions

    (tmp_path / "preset_tasks.py").write_text(PRESET_TASKS)
    monkeypatch.syspath_prepend(str(tmp_path))
    neat = RunOptions(genome="neat", task="preset_tasks:Parity", options={"inputs": 3}).resolve()
    assert neat.space["inputs"] == 3 and neat.strategy_options["population"] == 50 and neat.cycles == 150
    bits = RunOptions(genome="bitstring", task="preset_tasks:Parity", options={"inputs": 3}).resolve()
    assert bits.space["length"] == 8 and bits.strategy_options["population"] == 8 and bits.strategy_options["sample"] == 2
    assert bits.cycles == 40
    assert RunOptions(genome="bitstring", task="preset_tasks:Parity", cycles=12).resolve().cycles == 12  # the user's flag wins


def test_an_unknown_preset_key_or_option_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "preset_tasks.py").write_text(PRESET_TASKS)
    env = {"PYTHONPATH": str(tmp_path)}
    result = run_cli("evolve", "--genome", "bitstring", "--task", "preset_tasks:Misspelt", "-q", "--out", str(tmp_path / "r"), cwd=tmp_path, env=env)
    assert result.returncode != 0 and "genome_presets key 'populaton'" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = run_cli("evolve", "--genome", "bitstring", "--task", "preset_tasks:Parity", "-o", "nosuchkey=1", "-q", "--out",
                     str(tmp_path / "s"), cwd=tmp_path, env=env)
    assert result.returncode != 0 and "has no option 'nosuchkey'; its options are inputs" in result.stderr
    assert not (tmp_path / "r").exists() and not (tmp_path / "s").exists()
