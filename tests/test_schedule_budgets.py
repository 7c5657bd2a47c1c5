"""The schedule does not depend on how the caller slices the machine's time: the server
runs the kernel in budgets of its own (and shorter ones after a resume), `afgdb run`
in others. A quantum a budget cuts short goes on at the next call."""

from __future__ import annotations

import random

import pytest
from corpus_util import fresh_root, list_programs
from test_process_model import PipeOut

from afgdb.machine.kernel import ps
from afgdb.machine.kernel.kernel import Kernel


def _schedule(name: str, budgets: list[int]) -> tuple[list[tuple[int, dict[int, int]]], bytes]:
    program = next(p for p in list_programs() if p.name == name)
    with fresh_root() as root:
        out = PipeOut(1)
        k = Kernel(str(root), stdout=out, stderr=out, stdin=PipeOut(0))
        seen: list[tuple[int, dict[int, int]]] = []
        k.on_proc_exit.append(lambda p: seen.append((p.pid, ps.lwp_icounts(p))))
        p = k.spawn(program.guest_path, list(program.argv), [])
        i = 0
        while p.alive:
            if k.run(budgets[i % len(budgets)]) == 0 and not k.runnable() and \
                    k.next_deadline() is None:
                break
            i += 1
        return sorted(seen), bytes(out.out)


@pytest.mark.parametrize("name", ["pm_threads8", "pm_pipeline"])
def test_same_schedule_whatever_the_budgets(name: str) -> None:
    rng = random.Random(name)
    reference = _schedule(name, [1_000_000])
    for budgets in ([50_000], [20_000, 50_000], [997], [rng.randrange(1, 30_000) for _ in range(50)]):
        assert _schedule(name, budgets) == reference, budgets
