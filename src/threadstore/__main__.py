"""``python -m threadstore``: the same as the ``threadstore`` command."""

from threadstore.cli import main

main()
