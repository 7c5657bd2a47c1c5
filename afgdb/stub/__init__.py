"""The GDB stub: one `Session` per connection, packet families in `afgdb.stub.packets`."""

from afgdb.stub.session import Session

__all__ = ["Session"]
