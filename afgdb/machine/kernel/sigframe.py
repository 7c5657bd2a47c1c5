"""Signal frames: the Linux o32 rt_sigframe that handlers and gdb's unwinder expect."""

from __future__ import annotations

from typing import TYPE_CHECKING

from afgdb.machine.kernel.proc import LWP, SigAction

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel


def setup(k: Kernel, t: LWP, sig: int, info: tuple[int, int, int], act: SigAction) -> None:
    from afgdb.machine.kernel import signals

    signals.kill_process(k, t.proc, sig, core=sig in signals.CORE, info=info)
