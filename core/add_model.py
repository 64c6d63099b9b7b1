"""`python -m core.add_model`: the command line of ``core.training.add_model``."""

import sys

from core.training.add_model import main

if __name__ == "__main__":
    sys.exit(main())
