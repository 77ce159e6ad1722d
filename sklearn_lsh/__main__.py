"""``python -m sklearn_lsh``: see :mod:`sklearn_lsh._cli`."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
