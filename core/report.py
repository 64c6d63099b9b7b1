"""`python -m core.report`: the command line of ``core.reporting.report``."""

import sys

from core.reporting.report import main

if __name__ == "__main__":
    sys.exit(main())
