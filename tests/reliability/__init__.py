"""The reliability and security harness: what threadstore survives, tested with real parts.

Real files, real processes killed with SIGKILL, real HTTP to a moto S3 server on
127.0.0.1 behind a fault-injecting loopback proxy, and Hypothesis for hostile input.
Under pytest every loop runs a small, bounded budget (:mod:`.budget`); the same tests at
soak size, and the figures in ``docs/reliability.md``, come from one command::

    python -m tests.reliability.soak            # soak size; rewrites the soak figures
    python -m tests.reliability.soak --ci       # CI size; rewrites the CI figures

Module names are unique across the repository (pytest imports them as ``reliability.*``).
"""
