"""Genome diagrams (``genomes.base.Diagram``: cells, motifs, NEAT networks) drawn by Graphviz: layered, with
edges routed around nodes and labels placed where they do not overlap, which a hand-made layout could not do
for long skip edges. Uses the ``dot`` program (Debian's ``graphviz`` package) when it is installed; the report
falls back to its own matplotlib drawing otherwise."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from evonas.genomes.base import Diagram

NODE_STYLE = 'shape=box, style="rounded,filled", fillcolor="#fdf3d8", color="#4d4d4d", fontname="Helvetica", fontsize=11'
EDGE_STYLE = 'color="#7f7f7f", fontcolor="#1f4e9c", fontname="Helvetica", fontsize=9, arrowsize=0.7'


def graphviz_available() -> bool:
    """Whether Graphviz's ``dot`` program is on the PATH."""
    return shutil.which("dot") is not None


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def diagrams_dot(diagrams: list[Diagram], title: str) -> str:
    """One DOT graph holding every diagram as a titled cluster, laid out left to right."""
    lines = ["digraph genome {", f"  graph [rankdir=LR, labelloc=t, fontname=\"Helvetica\", fontsize=13, label={_quoted(title)}, "
             "nodesep=0.3, ranksep=0.55, newrank=true];", f"  node [{NODE_STYLE}];", f"  edge [{EDGE_STYLE}];"]
    for k, diagram in enumerate(diagrams):
        lines.append(f"  subgraph cluster_{k} {{")
        lines.append(f"    label={_quoted(diagram.title)}; fontsize=11; color=\"#bbbbbb\"; style=rounded;")
        for i, name in enumerate(diagram.nodes):
            lines.append(f"    d{k}_{i} [label={_quoted(name)}];")
        for source, target, label in diagram.edges:
            attributes = f" [label={_quoted(label)}]" if label else ""
            lines.append(f"    d{k}_{source} -> d{k}_{target}{attributes};")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_png(dot_text: str, path: Path, dpi: int = 110) -> Path:
    """Render DOT text to a PNG at ``path`` with ``dot``; a RuntimeError carrying Graphviz's message if it fails."""
    result = subprocess.run(["dot", "-Tpng", f"-Gdpi={dpi}", "-o", str(path)], input=dot_text.encode(), capture_output=True, timeout=120)
    if result.returncode != 0 or not path.exists():
        raise RuntimeError(f"graphviz could not draw the genome: {result.stderr.decode(errors='replace').strip()[:300]}")
    return path
