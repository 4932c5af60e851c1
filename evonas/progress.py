"""Progress display: a live line on a terminal, plain periodic lines otherwise (always on stderr)."""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def rate_text(per_second: float) -> str:
    """An evaluation rate in a unit that keeps it readable: per second, or per minute or hour when slower."""
    if per_second >= 1.0:
        return f"{per_second:,.1f} evals/s"
    if per_second * 60.0 >= 1.0:
        return f"{per_second * 60.0:.1f} evals/min"
    return f"{per_second * 3600.0:.1f} evals/h"


class Progress:
    """Shows evaluations done, rate, best fitness, failures and ETA."""

    def __init__(self, total: int, done: int = 0, stream: TextIO | None = None, enabled: bool = True, interval: float | None = None,
                 prefix: str = "", live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.prefix = prefix  # names the search when several share one terminal (parallel experiments)
        self.live = enabled and (self.stream.isatty() if live is None else live)
        self.interval = interval if interval is not None else (0.2 if self.live else 10.0)
        self.total = total
        self.start_done = done
        self.started = time.perf_counter()
        self.last_shown = -math.inf
        self.start_fraction: float | None = None
        self.last_line: str | None = None

    def update(self, done: int, best: float | None, failed: int, force: bool = False, fraction: float | None = None,
               extra: dict[str, object] | None = None) -> None:
        """Refresh the display if the interval has passed (or ``force``); ``fraction`` overrides done/total
        as the share of the budget spent (e.g. of a train-step budget)."""
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.last_shown < self.interval:
            return
        elapsed = now - self.started
        rate = (done - self.start_done) / elapsed if elapsed > 0 else 0.0
        best_text = "-" if best is None else f"{best:.6g}"
        if fraction is None:
            eta = (self.total - done) / rate if rate > 0 else math.inf
            head = f"[{done}/{self.total}] {100.0 * done / max(1, self.total):5.1f}%"
        else:
            if self.start_fraction is None:
                self.start_fraction = fraction
            spent = fraction - self.start_fraction
            eta = elapsed * (1.0 - fraction) / spent if spent > 0 else math.inf
            head = f"[{done} evals] {100.0 * fraction:5.1f}% of budget"
        fields = "".join(f"  {k} {v}" for k, v in (extra or {}).items())
        if done == self.start_done:  # nothing measured yet: a first run compiles kernels, a pool starts its workers
            pace = "waiting for the first results (compiling kernels on a first run)"
        else:
            pace = f"{rate_text(rate)}  eta {_duration(eta)}"
        line = f"{self.prefix}{head}{fields}  {pace}  best {best_text}  failed {failed}  elapsed {_duration(elapsed)}"
        state = f"{head}{fields}{best_text}{failed}"
        if force and state == self.last_line:
            return  # the final update of a run that just showed this state: once is enough
        self.last_shown, self.last_line = now, state
        if self.live:
            self.stream.write("\r" + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def event(self, line: str) -> None:
        """Print one event line (``-v``: failures and new bests) without breaking the live line."""
        if not self.enabled:
            return
        self.stream.write(("\r\x1b[K" if self.live else "") + line + "\n")
        self.stream.flush()
        if self.live:
            self.last_shown = -math.inf  # redraw the live line at the next update

    def close(self) -> None:
        """End the live line."""
        if self.enabled and self.live:
            self.stream.write("\n")
            self.stream.flush()
