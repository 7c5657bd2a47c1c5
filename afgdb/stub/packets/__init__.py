"""The packet registry: every packet the stub knows, one module per family.

Each family module lists its `PacketSpec` rows in ``PACKETS``; the registry
finds a packet's spec by its longest matching prefix (``exact`` specs only
when the whole packet is the name, so ``qC`` does not swallow ``qCRC:``).
A packet no spec matches gets the empty reply, which tells gdb "unsupported".
"""

from __future__ import annotations

from afgdb.stub.packets import breakpoints as breakpoints
from afgdb.stub.packets import memory as memory
from afgdb.stub.packets import monitor as monitor
from afgdb.stub.packets import query as query
from afgdb.stub.packets import registers as registers
from afgdb.stub.packets import resume as resume
from afgdb.stub.packets import vfile as vfile
from afgdb.stub.packets import xfer as xfer
from afgdb.stub.packets.common import PacketSpec

EXACT = {b"qC", b"qfThreadInfo", b"qsThreadInfo", b"qOffsets", b"vMustReplyEmpty",
         b"QStartNoAckMode", b"!", b"g", b"vCont?", b"?", b"k"}


class Registry:
    def __init__(self, specs: list[PacketSpec]) -> None:
        self.specs = specs
        self.by_first: dict[int, list[PacketSpec]] = {}
        for s in sorted(specs, key=lambda s: -len(s.prefix)):
            self.by_first.setdefault(s.prefix[0], []).append(s)

    def lookup(self, data: bytes) -> PacketSpec | None:
        if not data:
            return None
        for s in self.by_first.get(data[0], ()):
            if data.startswith(s.prefix):
                if s.prefix in EXACT and len(data) != len(s.prefix):
                    continue
                return s
        return None


REGISTRY = Registry(
    query.PACKETS + xfer.PACKETS + registers.PACKETS + memory.PACKETS
    + breakpoints.PACKETS + resume.PACKETS + vfile.PACKETS + monitor.PACKETS
)

__all__ = ["REGISTRY", "PacketSpec", "Registry"]
