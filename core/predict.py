"""`python -m core.predict`: the command line of ``core.serving.predict``."""

import sys

from core.serving.predict import main

if __name__ == "__main__":
    sys.exit(main())
