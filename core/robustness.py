"""`python -m core.robustness`: the command line of ``core.analysis.robustness``."""

import sys

from core.analysis.robustness import main

if __name__ == "__main__":
    sys.exit(main())
