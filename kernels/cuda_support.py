"""Finding a CUDA GPU for the bulk kernels, and the ``--device auto|cpu|cuda`` rule.

numba's CUDA target is imported only here and only when a GPU path is asked for, so CPU users never load it.
With the ``cuda`` extra installed it is NVIDIA's ``numba-cuda`` (the target built into numba is deprecated);
``NUMBA_ENABLE_CUDASIM=1`` swaps in numba's simulator, which the tests use on machines without a GPU.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from evonas.errors import UserError

DEVICES = ("auto", "cpu", "cuda")
THREADS_PER_BLOCK = 128
_INSTALL = "install the NVIDIA driver and pip install 'evonas[cuda]', or use --device cpu"


def simulated() -> bool:
    """Whether numba.cuda is the simulator (``NUMBA_ENABLE_CUDASIM=1``, read by numba at import)."""
    from numba import config

    return bool(config.ENABLE_CUDASIM)


@cache
def _probe() -> tuple[Any, str | None]:
    """numba.cuda and None when a GPU (or the simulator) is usable, else None and why not."""
    try:
        from numba import cuda
    except Exception as exc:  # noqa: BLE001 - any failure to load the target means no GPU path
        return None, f"numba's CUDA target failed to load ({type(exc).__name__}: {exc})"
    try:
        if cuda.is_available():
            return cuda, None
    except Exception as exc:  # noqa: BLE001
        return None, f"the CUDA driver failed to start ({type(exc).__name__}: {exc})"
    return None, "no CUDA GPU is visible (numba.cuda found no driver or device)"


def cuda_problem() -> str | None:
    """Why numba.cuda cannot run kernels here, or None when it can (a GPU, or the simulator)."""
    return _probe()[1]


def cuda_module() -> Any:
    """numba.cuda, or a UserError naming what is missing and the fix."""
    cuda, problem = _probe()
    if cuda is None:
        raise UserError(f"--device cuda: {problem}; {_INSTALL}")
    return cuda


def gpu_name() -> str | None:
    """The GPU's name, or None without one (the simulator is not a GPU)."""
    cuda, _ = _probe()
    if cuda is None or simulated():
        return None
    name = cuda.get_current_device().name
    return name.decode() if isinstance(name, bytes) else str(name)


_told_fallback = False


def check_device(requested: str) -> None:
    """Refuse a ``--device`` value that is not auto, cpu or cuda."""
    if requested not in DEVICES:
        raise UserError(f"unknown device {requested!r}; choose auto, cpu or cuda")


def resolve_device(requested: str, echo: Callable[[str], None] | None = None) -> str:
    """'cpu' or 'cuda' for ``--device``: ``auto`` takes a real GPU when one is visible and otherwise falls back
    to the CPU, saying so once per process; ``cuda`` without one is a UserError."""
    global _told_fallback
    check_device(requested)
    if requested == "cpu":
        return "cpu"
    if requested == "cuda":
        cuda_module()
        return "cuda"
    if gpu_name() is not None:
        return "cuda"
    if not _told_fallback and echo is not None:
        _, problem = _probe()
        echo(f"--device auto: {problem or 'the CUDA simulator is not a GPU'}; running on the CPU")
        _told_fallback = True
    return "cpu"


def device_functions(device: str, family: str, names: tuple[str, ...]) -> tuple[Any, ...]:
    """The kernels ``names`` of ``kernels/<family>_cpu.py``, or their twins ``<name>_cuda`` of
    ``kernels/<family>_cuda.py`` when ``device`` resolves to cuda; imported only then, so a task built for the
    CPU never loads numba.cuda. An ``auto`` that falls back says so on stderr, once per process."""
    import importlib
    import sys

    on_gpu = resolve_device(device, lambda line: print(line, file=sys.stderr)) == "cuda"
    module = importlib.import_module(f"evonas.kernels.{family}_{'cuda' if on_gpu else 'cpu'}")
    return tuple(getattr(module, f"{name}_cuda" if on_gpu else name) for name in names)


# the names the CPU kernels' math calls use, for the simulator (NumPy scalars: inf and NaN instead of exceptions)
_IEEE_MATH = types.SimpleNamespace(
    acos=np.arccos, asin=np.arcsin, atan=np.arctan, cos=np.cos, exp=np.exp, isfinite=np.isfinite, log=np.log,
    pi=math.pi, sin=np.sin, sqrt=np.sqrt, tan=np.tan,
)


def thread_pair(outer: int, inner: int) -> tuple[int, int, int]:  # pragma: no cover - compiled for the device
    """This thread's id and its (i, j) in an ``outer`` x ``inner`` grid of jobs, j fastest; id -1 past the end."""
    tid = cuda.grid(1)  # noqa: F821 - bound in the kernels' namespace
    if tid >= outer * inner:
        return -1, 0, 0
    i = tid // inner
    return tid, i, tid - i * inner


def twin_namespace(module: Any) -> dict[str, Any]:
    """Globals for device twins of ``module``'s njit functions: the module's own, with ``cuda`` and the
    ``thread_pair`` helper bound and, under the simulator (which runs kernels as Python, where ``math.sin(inf)``
    raises), IEEE 754 math."""
    namespace = dict(vars(module))
    cuda = namespace["cuda"] = cuda_module()
    if simulated():
        namespace["math"] = _IEEE_MATH
    namespace["thread_pair"] = cuda.jit(device=True)(rebind(thread_pair, namespace))
    return namespace


def device_twins(namespace: dict[str, Any], names: tuple[str, ...]) -> None:
    """Compile the njit functions ``names`` of the namespace's module as CUDA device functions from their Python
    source, callees first; each resolves its globals (its callees' twins included) in ``namespace``."""
    cuda = namespace["cuda"]
    for name in names:
        namespace[name] = cuda.jit(device=True)(rebind(namespace[name], namespace))


def rebind(function: Any, namespace: dict[str, Any]) -> Any:
    """The Python function behind ``function`` (an njit dispatcher or a plain function) with globals ``namespace``."""
    source = getattr(function, "py_func", function)
    return types.FunctionType(source.__code__, namespace, source.__name__, source.__defaults__, source.__closure__)


def launch_shape(threads: int) -> tuple[int, int]:
    """(blocks, threads per block) covering ``threads`` threads; kernels skip the ids past the end."""
    return (threads + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK, THREADS_PER_BLOCK
