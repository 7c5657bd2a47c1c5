"""Instruction rates over a run, for `afgdb run --stats`.

A whole run's rate mixes start-up costs (translating blocks, and under PyPy
the JIT's warm-up) with the rate the engine settles at. Windows of a fixed
number of instructions, each timed in process CPU time (so other load on the
host counts little), show both: the first windows pay the start-up, the
later ones give the steady rate.
"""

from __future__ import annotations

import statistics
import time

WINDOW = 10_000_000  # instructions per window


class RateWindows:
    def __init__(self, window: int = WINDOW) -> None:
        self.window = window
        self.rates: list[float] = []  # MIPS of each complete window
        self._n = 0
        self._t = time.process_time()

    def add(self, n: int) -> None:
        """n more instructions ran."""
        self._n += n
        if self._n >= self.window:
            t = time.process_time()
            if t > self._t:
                self.rates.append(self._n / (t - self._t) / 1e6)
            self._n, self._t = 0, t

    def steady(self) -> float | None:
        """Median rate of the windows after the first third; None for a short run."""
        if len(self.rates) < 3:
            return None
        return statistics.median(self.rates[len(self.rates) // 3:])
