"""The README's five-minute tour, pasted as written: every command and the Python snippet run, in order, in a
fresh folder, and each command succeeds."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tour() -> tuple[list[str], list[str]]:
    """The tour's shell command lines and Python snippets, in order."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    commands = [line for block in re.findall(r"```bash\n(.*?)```", section, re.S) for line in block.splitlines() if line.strip()]
    return commands, re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_tour_runs_as_written(tmp_path: Path) -> None:
    commands, snippets = tour()
    assert len(commands) >= 8 and snippets
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    for line in commands:
        words = shlex.split(line, comments=True)
        assert words[0] == "evonas", line
        result = subprocess.run([sys.executable, "-c", "from evonas.cli import main; main()", *words[1:]], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"{line}\n{result.stderr[-2000:]}"
    for snippet in snippets:
        result = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "runs" / "tour-nb201" / "report" / "report.html").exists()
