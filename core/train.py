"""`python -m core.train`: the command line of ``core.training.train``."""

import sys

from core.training.train import main

if __name__ == "__main__":
    sys.exit(main())
