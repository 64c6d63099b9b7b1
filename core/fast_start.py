"""`python -m core.fast_start`: the command line of ``core.serving.fast_start``."""

import sys

from core.serving.fast_start import main

if __name__ == "__main__":
    sys.exit(main())
