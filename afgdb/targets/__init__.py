"""Debug targets the stub drives: the `Target` protocol, its capabilities, and implementations."""

from afgdb.targets.caps import Action, Exited, Killed, Stopped, Target, TargetError, probe

__all__ = ["Action", "Exited", "Killed", "Stopped", "Target", "TargetError", "probe"]
