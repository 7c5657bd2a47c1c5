"""An optional CPU engine on Unicorn (QEMU's TCG) with the block engine's run() contract.

``run(c, cache, budget, step)`` runs a user thread and returns an
``engine.Exit`` exactly as ``afgdb.machine.cpu.engine.run`` does, so a
kernel can use it as ``Kernel.cpu_run``. It is a measured experiment (see
docs/benchmarks.md, "Unicorn"), not the default: nothing imports this
module unless asked, and ``unicorn`` is the optional extra of that name.

What it owns: one Unicorn instance per address space (kept on the
CodeCache), whose pages are the AddressSpace's own frames (``mem_map_ptr``
onto each frame's word array: no copies; the kernel's writes are seen at
once). Pages are mapped lazily on first touch, read-only while
copy-on-write, and re-checked against the AddressSpace at every run() so
that munmap, mprotect, exec, fork and copy-on-write breaks by the kernel
are followed.

How exactness is kept: Unicorn cannot tell how many instructions ran when
emulation stops early, and its ``count`` limit runs one instruction more
when it expires on a branch (the delay slot comes along). So the exact
mode counts with a block hook (a Python call per translated block) and
ends a slice only at a block start, as the block engine does. Breakpoints
are code hooks bounded to their address; watchpoints drop the access
permission of the watched pages so that an access faults precisely
(before it happens); an access to other bytes of such a page runs on the
reference interpreter.
``mode="sliced"`` drops the block hook and slices with ``count``: the
speed Unicorn has with no per-block Python, at the price of inexact counts.

Covered: user processes, threads (registers are swapped per run), fork
and exec (through the per-run page check), breakpoints, watchpoints, single
steps. Traps other than syscall leave Unicorn's pc at the exception vector:
the trapping instruction is found by decoding the block. Not covered: the
LL bit is shared by the threads of a process; system mode. Known gap:
libcheavy's count is 31 above the block engine's (docs/benchmarks.md).
"""

from __future__ import annotations

import importlib
from typing import Any

from afgdb.machine.cpu import engine, isa
from afgdb.machine.cpu.state import CPU
from afgdb.machine.memory import (
    PAGE_SHIFT,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    AddressSpace,
    MemFault,
)

# Untyped on purpose: unicorn is an optional extra that mypy may not see.
uc_mod: Any = importlib.import_module("unicorn")
M: Any = importlib.import_module("unicorn.mips_const")
U: Any = importlib.import_module("unicorn.unicorn_const")

_GPRS = [M.UC_MIPS_REG_0 + i for i in range(1, 32)]
_FPRS = [M.UC_MIPS_REG_F0 + i for i in range(32)]
_ALL = _GPRS + [M.UC_MIPS_REG_LO, M.UC_MIPS_REG_HI] + _FPRS + [M.UC_MIPS_REG_FCSR]
_NEVER = 0xFFFFFFFC  # emu_start's `until`: an address user code never reaches
_STATUS_CU1 = 1 << 29

# QEMU's MIPS exception numbers (target/mips/cpu.h) -> isa events.
_EXCP_EVENTS = {17: isa.EV_SYSCALL, 18: isa.EV_BREAK, 19: isa.EV_COPUNUSABLE,
                20: isa.EV_RESERVED, 21: isa.EV_OVERFLOW, 22: isa.EV_TRAP, 23: isa.EV_FPE,
                12: isa.EV_ADEL, 13: isa.EV_ADES}
_UNIT_KINDS = (isa.K_BRANCH, isa.K_JUMP, isa.K_JUMPREG)

# Stop reasons recorded by the hooks.
_S_NONE, _S_BUDGET, _S_EVENT, _S_FAULT, _S_BREAK, _S_WATCH, _S_PAGE = range(7)


class UnicornSpace:
    """A Unicorn instance running the threads of one address space."""

    def __init__(self, cache: engine.CodeCache, mode: str = "exact") -> None:
        self.mode = mode
        self.aspace: AddressSpace = cache.aspace
        self.cache = cache
        uc = self.uc = uc_mod.Uc(U.UC_ARCH_MIPS, U.UC_MODE_MIPS32 | U.UC_MODE_LITTLE_ENDIAN)
        uc.ctl_set_cpu_model(M.UC_CPU_MIPS32_24KF)  # qemu-mipsel's CPU, FPU included
        self.status = uc.reg_read(M.UC_MIPS_REG_CP0_STATUS) | _STATUS_CU1
        # A stop inside a delay slot leaves QEMU's "in a delay slot" flags set, which
        # no register write clears; restarting at the branch would then raise RI. So
        # a start after such a stop begins from this clean CPU context. Not always:
        # the context also holds the LL address, and dropping it at every slice
        # makes an ll/sc pair that straddles a slice retry (the block engine keeps
        # it, and the counts would differ).
        self.clean = uc.context_save()
        self.ds_stop = False
        self.mapped: dict[int, tuple[Any, int]] = {}  # pn -> (frame, unicorn perms)
        self.regions_seen: object = None
        self.nregions = -1
        self.exec_pages: set[int] = set()
        self.dirty_code: set[int] = set()
        self.bp_hooks: dict[int, int] = {}
        self.watch_ranges: list[tuple[int, int, int]] = []
        self.watch_pages: dict[int, int] = {}  # pn -> unicorn perms to drop
        # Per-run accounting (see run()).
        self.budget = 0
        self.done = 0
        self.cur_start = 0
        self.cur_n = 0
        self.blocks = 0
        self.start_pc = 0
        self.stop = _S_NONE
        self.stop_pc = 0
        self.event = 0
        self.fault: MemFault | None = None
        self.watch: tuple[int, int, bool] | None = None
        self.page = (0, False, False, False)
        if mode == "exact":
            uc.hook_add(U.UC_HOOK_BLOCK, self._on_block)
        uc.hook_add(U.UC_HOOK_INTR, self._on_intr)
        uc.hook_add(U.UC_HOOK_MEM_UNMAPPED, self._on_unmapped)
        uc.hook_add(U.UC_HOOK_MEM_PROT, self._on_prot)
        prev = self.aspace.on_code_write

        def on_code_write(pn: int) -> None:  # the kernel or a debugger wrote into code
            if prev is not None:
                prev(pn)
            self.dirty_code.add(pn)

        self.aspace.on_code_write = on_code_write

    # ------------------------------------------------------------ pages
    def _perms(self, pn: int) -> int:
        r = self.aspace.find_region(pn << PAGE_SHIFT)
        if r is None:
            return 0
        p = ((U.UC_PROT_READ if r.prot & PROT_READ else 0)
             | (U.UC_PROT_WRITE if r.prot & PROT_WRITE and pn not in self.aspace.cow else 0)
             | (U.UC_PROT_EXEC if r.prot & PROT_EXEC else 0))
        return p & ~self.watch_pages.get(pn, 0)

    def _map(self, pn: int, write: bool, fetch: bool) -> None:
        """Map page pn from its frame for an access (MemFault if the access must fault)."""
        addr = pn << PAGE_SHIFT
        fr = self.aspace.frame_for(addr, write, exec_=fetch)  # MemFault: the access faults
        old = self.mapped.get(pn)
        perms = self._perms(pn)
        if old is not None:
            if old[0] is fr:
                if old[1] != perms:
                    self.uc.mem_protect(addr, PAGE_SIZE, perms)
                    self.mapped[pn] = (fr, perms)
                return
            self.uc.mem_unmap(addr, PAGE_SIZE)
        self.uc.mem_map_ptr(addr, PAGE_SIZE, perms, fr.w.buffer_info()[0])
        self.mapped[pn] = (fr, perms)  # keeps the frame's storage alive while mapped
        if perms & U.UC_PROT_EXEC and pn not in self.exec_pages:
            self.exec_pages.add(pn)
            self.aspace.mark_code(pn)  # so kernel writes into it reach on_code_write

    def _sync(self) -> None:
        """Follow what the kernel did to the address space since the last run."""
        a = self.aspace
        full = a.regions is not self.regions_seen or len(a.regions) != self.nregions
        self.regions_seen, self.nregions = a.regions, len(a.regions)
        frames, cow = a.frames, a.cow
        for pn, (fr, perms) in list(self.mapped.items()):
            if frames.get(pn) is not fr:
                self.uc.mem_unmap(pn << PAGE_SHIFT, PAGE_SIZE)
                del self.mapped[pn]
                self.exec_pages.discard(pn)
                self.dirty_code.discard(pn)
            elif full or (perms & U.UC_PROT_WRITE and pn in cow) or pn in self.watch_pages:
                want = self._perms(pn)
                if want != perms:
                    self.uc.mem_protect(pn << PAGE_SHIFT, PAGE_SIZE, want)
                    self.mapped[pn] = (fr, want)
        for pn in self.dirty_code:
            self.uc.ctl_remove_cache(pn << PAGE_SHIFT, (pn + 1) << PAGE_SHIFT)
            if pn in self.mapped:
                a.mark_code(pn)
        self.dirty_code.clear()

    def _sync_debug(self) -> None:
        bps = self.cache.breakpoints
        for addr in [a for a in self.bp_hooks if a not in bps]:
            self.uc.hook_del(self.bp_hooks.pop(addr))
        for addr in bps:
            if addr not in self.bp_hooks:
                self.bp_hooks[addr] = self.uc.hook_add(U.UC_HOOK_CODE, self._on_bp,
                                                       begin=addr, end=addr)
        if self.cache.watch_ranges != self.watch_ranges:
            self.watch_ranges = list(self.cache.watch_ranges)
            old = set(self.watch_pages)
            self.watch_pages = {}
            for waddr, wlen, kind in self.watch_ranges:
                drop = (U.UC_PROT_WRITE if kind in (2, 4) else 0) | \
                    (U.UC_PROT_READ if kind in (3, 4) else 0)
                for pn in range(waddr >> PAGE_SHIFT, ((waddr + max(wlen, 1) - 1) >> PAGE_SHIFT) + 1):
                    self.watch_pages[pn] = self.watch_pages.get(pn, 0) | drop
            for pn in old | set(self.watch_pages):
                m = self.mapped.get(pn)
                if m is not None and self._perms(pn) != m[1]:
                    self.uc.mem_protect(pn << PAGE_SHIFT, PAGE_SIZE, self._perms(pn))
                    self.mapped[pn] = (m[0], self._perms(pn))

    # ------------------------------------------------------------ hooks
    def _on_block(self, uc: Any, addr: int, size: int, _ud: Any) -> None:
        done = self.done + self.cur_n  # the previous block ran to its end
        self.cur_n = 0
        if done >= self.budget:
            self.done = done
            self.stop = _S_BUDGET
            self.stop_pc = addr
            uc.emu_stop()  # before this block runs
            return
        self.done = done
        self.cur_start = addr
        self.cur_n = size >> 2
        self.blocks += 1

    def _on_bp(self, uc: Any, addr: int, size: int, _ud: Any) -> None:
        if addr == self.start_pc and self.blocks <= 1 and addr == self.cur_start:
            return  # resuming from this breakpoint: step over it, as the block engine does
        self.stop = _S_BREAK
        self.stop_pc = addr
        uc.emu_stop()

    def _on_intr(self, uc: Any, intno: int, _ud: Any) -> None:
        ev = _EXCP_EVENTS.get(intno, isa.EV_RESERVED)
        self.stop = _S_EVENT
        self.event = ev
        if ev == isa.EV_SYSCALL:
            self.stop_pc = (uc.reg_read(M.UC_MIPS_REG_PC) - 4) & 0xFFFFFFFF
        else:
            self.stop_pc = self._locate(ev)
        uc.emu_stop()

    def _locate(self, ev: int) -> int:
        """The pc of a trapping instruction: Unicorn leaves the pc at the exception vector."""
        want = {isa.EV_BREAK: ("break",), isa.EV_TRAP: ("teq", "tne", "tge", "tgeu", "tlt",
                                                         "tltu", "teqi", "tnei", "tgei",
                                                         "tgeiu", "tlti", "tltiu"),
                isa.EV_OVERFLOW: ("add", "addi", "sub")}.get(ev)
        dec = isa.decoder()
        for i in range(self.cur_n):
            pc = self.cur_start + 4 * i
            try:
                row = dec.decode(self.aspace.fetch(pc))
            except MemFault:
                break
            if want is None or (row is not None and row.name in want) or \
                    (ev == isa.EV_RESERVED and row is None):
                return pc
        return self.cur_start

    def _on_unmapped(self, uc: Any, access: int, addr: int, size: int, value: int,
                     _ud: Any) -> bool:
        return self._need_page(uc, addr, access == U.UC_MEM_WRITE_UNMAPPED,
                               access == U.UC_MEM_FETCH_UNMAPPED, False)

    def _on_prot(self, uc: Any, access: int, addr: int, size: int, value: int,
                 _ud: Any) -> bool:
        write = access == U.UC_MEM_WRITE_PROT
        fetch = access == U.UC_MEM_FETCH_PROT
        grant = False
        if (addr >> PAGE_SHIFT) in self.watch_pages and not fetch:
            for waddr, wlen, kind in self.watch_ranges:
                overlaps = addr < waddr + wlen and waddr < addr + size
                if overlaps and ((kind == 2 and write) or (kind == 3 and not write) or kind == 4):
                    self.stop = _S_WATCH
                    self.watch = (waddr if waddr >= addr else addr, size, write)
                    self.stop_pc = uc.reg_read(M.UC_MIPS_REG_PC)
                    return False
            grant = True  # other bytes of a watched page: run this access on the interpreter
        return self._need_page(uc, addr, write, fetch, grant)

    def _need_page(self, uc: Any, addr: int, write: bool, fetch: bool, grant: bool) -> bool:
        """Stop precisely before the access; run() maps the page and resumes there.

        Mapping from inside a hook makes Unicorn re-translate the running block and
        call the block hook again for part of it, which would break the count. An
        instruction fetch is the exception: it misses while a block is translated,
        before any of it runs, and Unicorn 2.1 crashes when emulation restarts after
        a failed fetch, so code pages are mapped right here.
        """
        if fetch:
            try:
                self._map(addr >> PAGE_SHIFT, False, True)
                return True
            except MemFault as e:
                self.fault = e
                self.stop = _S_FAULT
                self.stop_pc = addr
                return False
        self.stop = _S_PAGE
        self.page = (addr, write, fetch, grant)
        self.stop_pc = addr if fetch else uc.reg_read(M.UC_MIPS_REG_PC)
        return False

    # -------------------------------------------------------------- run
    def _is_delay_slot(self, pc: int) -> bool:
        try:
            row = isa.decoder().decode(self.aspace.fetch((pc - 4) & 0xFFFFFFFF))
        except MemFault:
            return False
        return row is not None and row.kind in _UNIT_KINDS

    def _load(self, c: CPU) -> None:
        r = c.r
        if self.ds_stop:
            self.uc.context_restore(self.clean)
            self.ds_stop = False
        self.uc.reg_write_batch(
            [(reg, r[i + 1]) for i, reg in enumerate(_GPRS)]
            + [(M.UC_MIPS_REG_LO, r[32]), (M.UC_MIPS_REG_HI, r[33])]
            + [(reg, c.f[i]) for i, reg in enumerate(_FPRS)]
            + [(M.UC_MIPS_REG_FCSR, c.fcsr), (M.UC_MIPS_REG_CP0_USERLOCAL, c.ulr),
               (M.UC_MIPS_REG_CP0_STATUS, self.status)])

    def _save(self, c: CPU) -> None:
        vals = self.uc.reg_read_batch(_ALL)
        r = c.r
        r[1:32] = vals[:31]
        r[32], r[33] = vals[31], vals[32]
        c.f[:] = [v & 0xFFFFFFFF for v in vals[33:65]]
        c.fcsr = vals[65]

    def run(self, c: CPU, budget: int, step: bool = False) -> engine.Exit:
        uc = self.uc
        self._sync()
        self._sync_debug()
        self._load(c)
        exact = self.mode == "exact"
        pc = c.pc
        total = 0  # instructions completed by earlier segments of this call
        while True:
            self.budget = 1 << 62 if step else budget - total
            self.done = self.cur_n = self.blocks = 0
            self.cur_start = self.start_pc = pc
            self.stop = _S_NONE
            self.fault = None
            self.watch = None
            count = 1 if step else (0 if exact else budget)
            err: Exception | None = None
            try:
                uc.emu_start(pc, _NEVER, 0, count)
            except uc_mod.UcError as e:
                err = e
            stop = self.stop
            if stop in (_S_NONE, _S_BUDGET):
                # A stop requested by the block hook (or by count) may come back as a
                # spurious UC_ERR_READ_UNMAPPED: every real fault goes through a hook and
                # sets self.stop. After the block hook's stop its block has not run.
                spurious = (stop == _S_BUDGET and uc.reg_read(M.UC_MIPS_REG_PC) == self.stop_pc) \
                    or (stop == _S_NONE and count > 0)
                if err is not None and not spurious:
                    raise RuntimeError(f"unicorn stopped without a reason: {err}")
                self._save(c)
                if step:  # count=1 ran one unit: a branch brings its delay slot along
                    total += 2 if self._is_delay_slot(pc + 4) else 1
                else:
                    total += (self.done + self.cur_n) if exact else budget
                c.icount += total
                c.pc = uc.reg_read(M.UC_MIPS_REG_PC)
                return engine.Exit(engine.X_BUDGET, c.pc)
            spc = self.stop_pc
            in_ds = spc != self.cur_start and self._is_delay_slot(spc)
            self.ds_stop = self.ds_stop or in_ds or stop == _S_EVENT
            unit = (spc - 4) & 0xFFFFFFFF if in_ds else spc
            if self.cur_start <= unit < self.cur_start + 4 * self.cur_n:
                ran = self.done + ((unit - self.cur_start) >> 2)
            else:  # the block hook has not run for this block (a fetch fault)
                ran = self.done + self.cur_n
                if stop == _S_PAGE and self.page[2]:
                    unit = uc.reg_read(M.UC_MIPS_REG_PC)
            total += ran if exact else 0  # sliced: Unicorn keeps no count of an early stop
            if stop == _S_PAGE:
                addr, write, fetch, grant = self.page
                if grant:
                    ex = self._interp_unit(c, unit)
                    total += ex[1]
                    if ex[0] is not None:
                        c.icount += total
                        return ex[0]
                    pc = c.pc
                    continue
                try:
                    self._map(addr >> PAGE_SHIFT, write, fetch)
                except MemFault as e:
                    self.fault = e
                if self.fault is None:
                    pc = c.pc = unit
                    if in_ds:
                        self._save(c)
                        self._load(c)
                    continue
                stop = _S_FAULT
            self._save(c)
            c.pc = unit
            if stop == _S_EVENT:
                if self.event in (isa.EV_SYSCALL, isa.EV_BREAK):
                    total += 1  # they complete; the kernel decides where to resume
                c.icount += total
                return engine.Exit(engine.X_EVENT, unit, self.event, in_ds)
            c.icount += total
            if stop == _S_BREAK:
                return engine.Exit(engine.X_BREAKPOINT, unit)
            if stop == _S_WATCH:
                return engine.Exit(engine.X_WATCH, unit, watch=self.watch)
            fault = self.fault or MemFault(spc, False, False)
            return engine.Exit(engine.X_FAULT, unit, fault=fault)

    def _interp_unit(self, c: CPU, pc: int) -> tuple[engine.Exit | None, int]:
        """One unit on the reference interpreter (an access to unwatched bytes of a
        watched page); returns its Exit if it stopped, and how many instructions ran."""
        from afgdb.machine.cpu import interp

        self._save(c)
        c.pc = pc
        before = c.icount
        ex = interp.run(c, self.cache, 1, step=True)
        ran = c.icount - before
        c.icount = before
        self._sync()
        self._load(c)
        return (None if ex.reason == engine.X_BUDGET else ex), ran


def space_of(cache: engine.CodeCache, mode: str = "exact") -> UnicornSpace:
    sp: UnicornSpace | None = getattr(cache, "_unicorn", None)
    if sp is None or sp.mode != mode:
        sp = UnicornSpace(cache, mode)
        cache._unicorn = sp  # type: ignore[attr-defined]
    return sp


def run(c: CPU, cache: engine.CodeCache, budget: int, step: bool = False) -> engine.Exit:
    """engine.run's contract on Unicorn, with exact instruction counts."""
    return space_of(cache).run(c, budget, step)


def run_sliced(c: CPU, cache: engine.CodeCache, budget: int, step: bool = False) -> engine.Exit:
    """No block hook: Unicorn's own ``count`` slices; counts of early stops are lost."""
    return space_of(cache, "sliced").run(c, budget, step)
