"""The schedule does not depend on how the caller slices the machine's time: the server
runs the kernel in budgets of its own (and shorter ones after a resume) and stops a
slice at a host deadline before translating more code, `afgdb run` runs it in others.
A quantum a budget or a deadline cuts short goes on at the next call."""

from __future__ import annotations

import random
import time

import pytest
from corpus_util import fresh_root, list_programs
from test_process_model import PipeOut

from afgdb.machine.kernel import ps
from afgdb.machine.kernel.kernel import Kernel


def _schedule(name: str, budgets: list[int], deadlines: list[float] | None = None
              ) -> tuple[list[tuple[int, dict[int, int]]], bytes]:
    program = next(p for p in list_programs() if p.name == name)
    with fresh_root() as root:
        out = PipeOut(1)
        k = Kernel(str(root), stdout=out, stderr=out, stdin=PipeOut(0))
        seen: list[tuple[int, dict[int, int]]] = []
        k.on_proc_exit.append(lambda p: seen.append((p.pid, ps.lwp_icounts(p))))
        p = k.spawn(program.guest_path, list(program.argv), [])
        i = 0
        early = 0
        while p.alive:
            budget = budgets[i % len(budgets)]
            deadline = time.perf_counter() + deadlines[i % len(deadlines)] if deadlines else None
            n = k.run(budget, deadline)
            if n == 0 and not k.runnable() and k.next_deadline() is None:
                break
            # Stopped inside a quantum short of its budget: at the deadline, before
            # translating a unit.
            early += n < budget and any(t.slice_left for t in k.runq)
            i += 1
        if deadlines:
            assert early, "no slice stopped at its deadline"  # the test would prove nothing
        return sorted(seen), bytes(out.out)


@pytest.mark.parametrize("name", ["pm_threads8", "pm_pipeline"])
def test_same_schedule_whatever_the_budgets(name: str) -> None:
    rng = random.Random(name)
    reference = _schedule(name, [1_000_000])
    for budgets in ([50_000], [20_000, 50_000], [997], [rng.randrange(1, 30_000) for _ in range(50)]):
        assert _schedule(name, budgets) == reference, budgets


def test_same_schedule_whatever_the_deadlines() -> None:
    """A slice stops at its host deadline before translating more (the server's runner
    does, so cold code does not hold up the event loop); wherever that falls, the
    threads run as they do in one go."""
    reference = _schedule("pm_threads8", [1_000_000])
    assert _schedule("pm_threads8", [1_000_000], [0.0002, 0.001, 0.0005]) == reference
