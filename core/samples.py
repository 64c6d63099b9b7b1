"""`python -m core.samples`: the command line of ``core.store.samples``."""

import sys

from core.store.samples import main

if __name__ == "__main__":
    sys.exit(main())
