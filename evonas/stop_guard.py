"""One place that turns Ctrl-C, SIGTERM and a stop event into ``KeyboardInterrupt`` at safe points of a run.

A stop must never split a tell from its lineage rows, nor a lineage part from the checkpoint that covers it:
while such a step is held, a stop is only noted, and raised when the step is released.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any


class StopRequested(KeyboardInterrupt):
    """The run's own stop (Ctrl-C, SIGTERM or the stop event), as opposed to a KeyboardInterrupt some task code
    raised by itself: a run stops on this one and logs the other as a failed evaluation."""


_CTRL_C_OWNERS = [0]  # guards that hold SIGINT now: while one does, a real Ctrl-C arrives as StopRequested


def owns_ctrl_c() -> bool:
    """Whether a guard holds SIGINT, so that any plain KeyboardInterrupt is not the user's Ctrl-C."""
    return _CTRL_C_OWNERS[0] > 0


def ignore_ctrl_c() -> None:
    """Ignore SIGINT in this process for good (a worker: the driver decides when to stop), so any
    KeyboardInterrupt here is raised by task code."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _CTRL_C_OWNERS[0] += 1


class StopGuard:
    """Installs the run's Ctrl-C and SIGTERM handlers for the length of a ``with`` block (where the process has
    Python's defaults: never in a thread, never over a handler someone else installed) and raises
    ``KeyboardInterrupt`` when a stop arrives, unless a step is held.

    ``stop_event`` (a thread or process event) stops the run as a signal would: the parallel AutoML-Zero
    protocol sets it to stop experiments that run in threads."""

    def __init__(self, stop_event: Any = None) -> None:
        self.stop_event = stop_event
        self._holding = False
        self._requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopGuard:
        if threading.current_thread() is threading.main_thread():
            for signum, default in ((signal.SIGTERM, signal.SIG_DFL), (signal.SIGINT, signal.default_int_handler)):
                if signal.getsignal(signum) is default:
                    self._previous[signum] = signal.signal(signum, self._on_signal)
        if signal.SIGINT in self._previous:
            _CTRL_C_OWNERS[0] += 1
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        if signal.SIGINT in self._previous:
            _CTRL_C_OWNERS[0] -= 1
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._holding:
            self._requested = True
            return
        raise StopRequested

    @property
    def stop_pending(self) -> bool:
        """A stop noted while held: Ctrl-C, SIGTERM, or the stop event."""
        return self._requested or (self.stop_event is not None and self.stop_event.is_set())

    def hold(self) -> None:
        """From here, a stop waits for ``release``."""
        self._holding = True

    def release(self) -> None:
        """End the held step; raise ``KeyboardInterrupt`` if a stop came meanwhile."""
        self._holding = False
        self.check()

    def let_go(self) -> None:
        """End any held step without raising (the run is already stopping)."""
        self._holding = False

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if a stop is pending."""
        if self.stop_pending:
            raise StopRequested

    @contextmanager
    def held(self) -> Iterator[None]:
        """The block runs whole; a stop that arrives in it is raised once it ends."""
        self.hold()
        try:
            yield
        finally:
            self._holding = False
        self.check()
