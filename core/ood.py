"""`python -m core.ood`: the command line of ``core.analysis.ood``."""

import sys

from core.analysis.ood import main

if __name__ == "__main__":
    sys.exit(main())
