import sys

from afgdb.cli import main

sys.exit(main())
