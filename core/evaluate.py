"""`python -m core.evaluate`: the command line of ``core.training.evaluate``."""

import sys

from core.training.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
