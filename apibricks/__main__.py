"""``python -m apibricks``: the same command line as the ``apibricks`` script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
