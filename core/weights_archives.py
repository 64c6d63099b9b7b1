"""`python -m core.weights_archives`: the command line of ``core.weights.archives``."""

import sys

from core.weights.archives import main

if __name__ == "__main__":
    sys.exit(main())
