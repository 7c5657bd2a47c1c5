"""`python -m afgdb.cored` is `afgdb cored`."""

from __future__ import annotations

import sys

from afgdb.cored.main import cored_main

if __name__ == "__main__":
    sys.exit(cored_main(sys.argv[1:]))
