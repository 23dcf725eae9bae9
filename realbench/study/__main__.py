"""``python -m realbench.study make|serve|analyze ...``: the study commands on their own."""
from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
