"""`python -m core.serve`: the command line of ``core.serving.serve``."""

import sys

from core.serving.serve import main

if __name__ == "__main__":
    sys.exit(main())
