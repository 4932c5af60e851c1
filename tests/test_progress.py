"""The progress line: readable rates at any speed, no rate or ETA before there is one, the final line once."""

from __future__ import annotations

import io

from evonas.progress import Progress, rate_text


def test_slow_rates_are_shown_per_minute_or_hour() -> None:
    assert rate_text(12.34) == "12.3 evals/s"
    assert rate_text(0.05) == "3.0 evals/min"
    assert rate_text(0.001) == "3.6 evals/h"


def test_before_the_first_result_it_says_so_instead_of_a_rate() -> None:
    stream = io.StringIO()
    progress = Progress(100, stream=stream, live=False)
    progress.update(0, None, 0, force=True)
    assert "waiting for the first results" in stream.getvalue() and "eta" not in stream.getvalue()
    progress.update(10, 0.5, 0, force=True)
    assert "evals/" in stream.getvalue().splitlines()[-1] and "eta" in stream.getvalue().splitlines()[-1]


def test_the_final_line_is_printed_once() -> None:
    stream = io.StringIO()
    progress = Progress(100, stream=stream, live=False)
    progress.update(100, 0.9, 1, force=True)
    progress.update(100, 0.9, 1, force=True)  # the run's last checkpoint, then its end, report the same state
    assert len(stream.getvalue().splitlines()) == 1
    progress.update(100, 0.95, 1, force=True)  # a changed state is shown
    assert len(stream.getvalue().splitlines()) == 2
