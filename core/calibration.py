"""`python -m core.calibration`: the command line of ``core.analysis.calibration``."""

import sys

from core.analysis.calibration import main

if __name__ == "__main__":
    sys.exit(main())
