"""``python -m realbench``: the same as the ``realbench`` command."""
from .console import main

main()
