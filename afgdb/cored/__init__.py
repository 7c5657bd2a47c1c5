"""cored, the crash daemon (host side): config, spool, sinks; reached through a unix socket.

The machine (or a Linux ``core_pattern`` pipe) hands each core over the
socket in the `afgdb.machine.handoff` framing; cored spools it, then
delivers it to the sink its first matching config rule names. Only this
package and the server import anyio.
"""

from __future__ import annotations

from afgdb.cored.config import Config, ConfigError, Rule, load_config, parse_config
from afgdb.cored.daemon import Cored, Spool
from afgdb.cored.main import cored_main, handoff_main

__all__ = ["Config", "ConfigError", "Rule", "load_config", "parse_config", "Cored", "Spool",
           "cored_main", "handoff_main"]
