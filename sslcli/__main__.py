"""``python -m sslcli`` (and ``torchrun -m sslcli``): the same as the ``sslcli`` script."""

import sys

from sslcli.cli import main

if __name__ == "__main__":
    sys.exit(main())
