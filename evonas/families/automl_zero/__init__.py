"""AutoML-Zero programs (Real et al. 2020): the family record, its presets and its per-task settings.

The family's engine side sits beside this file: ``tasks`` (the task sets, scored in bulk by the Numba
interpreter), ``search`` (the compiled aging-evolution loop), ``protocol`` (the experiment protocol of the
demo) and ``export`` (standalone Python of a program)."""

from __future__ import annotations

from typing import Any

from evonas.genomes.automl_zero import ProgramGenome, ProgramSpace

from ..record import ExportFormat, ExportRequest, Family
from .tasks import ProgramTaskSet

DEMO_OPS = ["scalar_const_set", "vector_inner_product", "scalar_diff", "scalar_product", "scalar_vector_product", "vector_sum"]
AFFINE_OPS = ["scalar_const_set", "vector_inner_product", "scalar_sum", "scalar_diff", "scalar_product", "scalar_vector_product", "vector_sum"]
TEACHER_OPS = [
    "scalar_const_set", "scalar_sum", "scalar_diff", "scalar_product", "scalar_vector_product", "vector_sum", "vector_product",
    "vector_inner_product", "vector_outer_product", "matrix_vector_product", "vector_heaviside", "matrix_sum",
    "scalar_matrix_product", "vector_gaussian_set", "matrix_gaussian_set",
]
DEMO_MUTATIONS = {"alter_param": 1.0, "randomize_instruction": 1.0, "randomize_component": 1.0}

# AutoML-Zero settings per task (../shared/specs/automl_zero.md §2.2, §4, §10): "cpu" and "paper" are the
# paper's / [C]'s settings; "smoke" shrinks the budget. Each experiment stops at max_train_steps (fingerprint
# steps included), as [C] does; the demo protocol then starts new experiments until one passes selection.
PROGRAM_TASKS: dict[str, dict[str, Any]] = {
    "linear-regression": {  # [C] run_demo.sh
        "space": {"scalars": 4, "vectors": 3, "matrices": 1, "features": 4, "setup_ops": DEMO_OPS, "predict_ops": DEMO_OPS,
                  "learn_ops": DEMO_OPS, "init_sizes": [10, 2, 8], "min_sizes": [10, 2, 8], "max_sizes": [10, 2, 8],
                  "mutation_weights": DEMO_MUTATIONS, "mutate_prob": 0.9, "initial_program": "random"},
        "task_options": {"tasks": 10, "features": 4, "train": 100, "valid": 100, "fec": True},
        "population": 1000, "sample": 10, "max_train_steps": 200_000_000,
        "select": {"tasks": 100, "train": 1000, "valid": 100}, "final": {"tasks": 100, "train": 1000, "valid": 100},
    },
    "affine-regression": {  # [P] §4.1: 5/3/1 addresses, F=8, fixed 6/2/6, D=3 tasks of 1000/100
        "space": {"scalars": 5, "vectors": 3, "matrices": 1, "features": 8, "setup_ops": AFFINE_OPS, "predict_ops": AFFINE_OPS,
                  "learn_ops": AFFINE_OPS, "init_sizes": [6, 2, 6], "min_sizes": [6, 2, 6], "max_sizes": [6, 2, 6],
                  "mutation_weights": DEMO_MUTATIONS, "mutate_prob": 0.9, "initial_program": "random"},
        "task_options": {"tasks": 3, "features": 8, "train": 1000, "valid": 100, "fec": True},
        "population": 1000, "sample": 10, "max_train_steps": 2_000_000_000,
        "select": {"tasks": 100, "train": 1000, "valid": 100}, "final": {"tasks": 100, "train": 1000, "valid": 100},
    },
    "teacher": {  # [P] Fig. 5: 4/8/2 addresses, F=8, fixed 21/3/9
        "space": {"scalars": 4, "vectors": 8, "matrices": 2, "features": 8, "setup_ops": TEACHER_OPS, "predict_ops": TEACHER_OPS,
                  "learn_ops": TEACHER_OPS, "init_sizes": [21, 3, 9], "min_sizes": [21, 3, 9], "max_sizes": [21, 3, 9],
                  "mutation_weights": DEMO_MUTATIONS, "mutate_prob": 0.9, "initial_program": "random"},
        "task_options": {"tasks": 3, "features": 8, "train": 1000, "valid": 100, "fec": True},
        "population": 1000, "sample": 10, "max_train_steps": 2_000_000_000,
        "select": {"tasks": 100, "train": 1000, "valid": 100}, "final": {"tasks": 100, "train": 1000, "valid": 100},
    },
    "binary-classification": {  # [P] S10 "Basic" (run_baseline.sh); [C]'s max 7/11/23 refuses inserts at max-1: inclusive 6/10/22
        "space": {"scalars": 5, "vectors": 9, "matrices": 2, "features": 16,
                  "setup_ops": ["scalar_const_set", "scalar_gaussian_set", "scalar_uniform_set", "vector_gaussian_set",
                                "vector_uniform_set", "matrix_gaussian_set", "matrix_uniform_set"],
                  "predict_ops": ["scalar_sum", "matrix_vector_product", "vector_max", "vector_inner_product", "vector_sum"],
                  "learn_ops": ["scalar_sum", "scalar_diff", "scalar_product", "scalar_vector_product", "vector_sum",
                                "vector_heaviside", "vector_product", "vector_outer_product", "matrix_sum"],
                  "init_sizes": [1, 1, 1], "min_sizes": [1, 1, 1], "max_sizes": [6, 10, 22], "initial_program": "empty",
                  "mutation_weights": {"alter_param": 1.0, "randomize_component": 1.0, "insert": 1.0, "remove": 1.0}, "mutate_prob": 0.9},
        # [C] uses 8000 / 1000 per CIFAR-10 pair; the embedded Fashion-MNIST subset has 1200 / 300 per pair.
        "task_options": {"tasks": 10, "features": 16, "train": 1200, "valid": 300, "fec": False},
        "population": 100, "sample": 10, "max_train_steps": 100_000_000_000,
        "select": {"tasks": 10, "train": 1200, "valid": 300}, "final": {"tasks": 100, "train": 1200, "valid": 300},
    },
}

PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {"batch": 100, "checkpoint_every": 20_000, "cycles": 20_000, "population": 100, "sample": 10, "task_options": {}, "max_train_steps": 5_000_000},
    # A checkpoint's fixed part (1,000 member genomes as JSON, the FEC cache) takes about 0.1 s; every 500,000
    # children is every 4 s or so of the demo's search, and an experiment ends with one anyway.
    "cpu": {"batch": 100, "checkpoint_every": 500_000, "cycles": 1_000_000_000, "task_options": {}},
    "paper": {"batch": 100, "checkpoint_every": 500_000, "cycles": 1_000_000_000, "task_options": {}},
}


def _write_python(request: ExportRequest) -> None:
    from .export import program_python

    request.out.write_text(program_python(request.genome, request.title))


TASKS = {
    "linear-regression": (ProgramTaskSet, {"kind": "linear"}),
    "affine-regression": (ProgramTaskSet, {"kind": "affine"}),
    "teacher": (ProgramTaskSet, {"kind": "teacher"}),
    "binary-classification": (ProgramTaskSet, {"kind": "binary"}),
}

FAMILY = Family(
    kind=ProgramGenome.kind, genome=ProgramGenome, space=ProgramSpace, default_task="linear-regression", tasks=TASKS,
    presets=PRESETS, lineage="compact", exports=(ExportFormat("python", ".py", _write_python),), task_presets=PROGRAM_TASKS,
)
