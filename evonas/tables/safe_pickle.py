"""A restricted unpickler for benchmark files: only the globals a file is known to need, each mapped to a
harmless stand-in, so a file that names anything else (a hostile pickle that would run code) is refused
before any of it runs."""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from evonas.errors import UserError


class Record:
    """A plain attribute bag standing in for a pickled object of a package's class (its state is the ``__dict__``)."""

    def __repr__(self) -> str:
        return f"Record({vars(self)!r})"


def numpy_scalar(dtype: np.dtype, data: bytes) -> Any:
    """Rebuild a pickled numpy scalar from its dtype and raw bytes (numeric dtypes only)."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise pickle.UnpicklingError("a numpy scalar with an object dtype or bad bytes")
    return np.frombuffer(data, dtype=dtype)[0]


def numpy_dtype(*args: Any) -> np.dtype:
    """``numpy.dtype`` for the plain numeric type codes a table uses."""
    if not args or not isinstance(args[0], str) or args[0].lstrip("<>=|") not in ("f8", "f4", "i8", "i4", "u8", "u4", "b1"):
        raise pickle.UnpicklingError(f"a numpy dtype {args!r} no benchmark table needs")
    return np.dtype(*args)


class _Restricted(pickle.Unpickler):
    def __init__(self, data: bytes, allowed: Mapping[tuple[str, str], Callable[..., Any] | type]) -> None:
        super().__init__(io.BytesIO(data))
        self.allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global {module}.{name}") from None


def restricted_load(data: bytes, allowed: Mapping[tuple[str, str], Callable[..., Any] | type], what: str) -> Any:
    """Unpickle ``data`` admitting only the globals in ``allowed`` (module, name) -> stand-in; a UserError names the
    file (``what``) and the global it refused."""
    try:
        return _Restricted(data, allowed).load()
    except pickle.UnpicklingError as exc:
        raise UserError(f"{what} is not a benchmark table evonas can read safely (it names {exc}); "
                        "reinstall the package: pip install --force-reinstall 'evonas[tabular]'") from None
    except Exception as exc:  # a truncated or garbled file
        raise UserError(f"{what} is damaged ({type(exc).__name__}: {exc}); reinstall the package: "
                        "pip install --force-reinstall 'evonas[tabular]'") from None


#: What NAS-Bench-Graph's ``.bench`` files need: numpy scalars and their dtypes.
NUMPY_SCALARS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "scalar"): numpy_scalar,
    ("numpy._core.multiarray", "scalar"): numpy_scalar,
    ("numpy", "dtype"): numpy_dtype,
}
