"""Benchmarks: threadstore's backends against the stores a user would pick instead.

``python -m benchmarks`` runs them all and rewrites docs/benchmarks.md and its plots;
``--quick`` or ``--smoke`` run smaller versions. They are not tests: nothing here runs
in the test suite except one smoke run that keeps the code from rotting.
"""
