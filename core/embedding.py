"""`python -m core.embedding`: the command line of ``core.analysis.embedding``."""

import sys

from core.analysis.embedding import main

if __name__ == "__main__":
    sys.exit(main())
