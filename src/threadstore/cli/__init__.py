"""The ``threadstore`` command line: demo, backends, ls, show, copy and verify.

This package only parses arguments and prints; the work is done by library modules
(:mod:`threadstore.migrate`, :mod:`threadstore.integrity`, :mod:`threadstore.demo`).
Nothing in the library imports it. Heavy imports (pydantic, stevedore, rich) happen
inside the command that needs them, so ``threadstore --help`` starts fast.

Exit codes:

====  ==========================================================================
0     success
1     problems found: ``verify`` findings left unrepaired, ``copy`` conflicts
2     usage or bad input: unknown option, bad URL, unknown scheme, invalid ID
3     not found: the thread (or other object) named does not exist
4     the storage failed: I/O error, unreachable service, corrupt data
130   interrupted (Ctrl-C)
====  ==========================================================================
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

__all__ = [
    "EXIT_BACKEND",
    "EXIT_FINDINGS",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_USAGE",
    "main",
]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_BACKEND = 4
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the command line (``argv`` defaults to ``sys.argv[1:]``) and exit with its code."""
    from threadstore.cli.commands import run

    sys.exit(run(argv))
