"""How big a run is: sizes, counts and time budgets of each profile.

``--smoke`` checks that everything still runs (seconds), ``--quick`` is a smaller run
(about a minute), the default is the published one, ``--full`` goes further.
The default fits a few minutes on a 2-core machine; every loop is bounded by a count
and, per figure, by a time budget (a figure stops early, after at least three samples,
once its budget is spent), so a slow contender cannot stall the run.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PROFILES", "Profile"]


@dataclass(frozen=True)
class Profile:
    name: str
    sizes: tuple[int, ...]
    """Thread sizes (messages) for pages, full reads and appends-at-size."""
    full_read_max: int
    """The largest thread read in full (a 10^5 read takes seconds per contender)."""
    s3_max_messages: int
    """The largest S3 thread (every append is several requests to loopback moto)."""
    seed_max_messages: int
    """The largest thread of the seed design (its pages read the whole thread: about a
    second per page at 10^4 messages, ten at 10^5)."""
    threads: int
    """Threads in the store for the cold-open figure (at least 20: one full page)."""
    s3_threads: int
    appends: int
    """Timed single-writer appends per contender."""
    appends_at_size: int
    reads: int
    """Timed calls per read figure (pages, full reads)."""
    runs: int
    """Timed compare-and-set moves per contender (and as many completions)."""
    opens: int
    writers: int
    writer_appends: int
    """Appends per writer process per round."""
    writer_rounds: int
    budget: float
    """Seconds one figure may take (after its first ``min_samples`` samples)."""
    s3_calls: int
    """Calls traced through the delaying proxy per S3 figure."""
    min_samples: int = 3
    s3_delay: float = 0.020
    local_disk_sizes: tuple[int, ...] = ()
    """Sizes for the local-disk backend's own page benchmark (none: not run)."""
    object_storage_sizes: tuple[int, ...] = ()
    """Sizes for the S3 backend's own request counts (none: not run)."""
    object_storage_threads: int = 0
    """Threads in the catalog the S3 backend's own thread-page counts list (0: not run)."""
    async_adapter_quick: bool = True
    """Run the async adapter's own benchmark in its ``--quick`` form."""
    startup_runs: int = 20
    """Fresh processes timed per start-up case."""
    session_items: int = 1_000
    """Items in the Agents SDK session whose latest 20 are read."""


PROFILES = {
    "smoke": Profile(
        name="smoke",
        sizes=(50,),
        full_read_max=50,
        s3_max_messages=50,
        seed_max_messages=50,
        threads=40,
        s3_threads=25,
        appends=8,
        appends_at_size=3,
        reads=5,
        runs=5,
        opens=3,
        writers=2,
        writer_appends=5,
        writer_rounds=1,
        budget=0.3,
        s3_calls=1,
        min_samples=1,
        session_items=50,
        local_disk_sizes=(50,),
        object_storage_sizes=(50,),
        startup_runs=1,
        object_storage_threads=300,
    ),
    "quick": Profile(
        name="quick",
        sizes=(100, 1_000, 10_000),
        full_read_max=1_000,
        s3_max_messages=100,
        seed_max_messages=1_000,
        threads=1_000,
        s3_threads=50,
        appends=60,
        appends_at_size=10,
        reads=15,
        runs=20,
        opens=5,
        writers=4,
        writer_appends=20,
        writer_rounds=1,
        budget=0.8,
        s3_calls=3,
        local_disk_sizes=(100, 1_000),
        object_storage_sizes=(100,),
        startup_runs=8,
        object_storage_threads=10_000,
    ),
    "default": Profile(
        name="default",
        sizes=(100, 1_000, 10_000, 100_000),
        full_read_max=10_000,
        s3_max_messages=1_000,
        seed_max_messages=10_000,
        threads=10_000,
        s3_threads=300,
        appends=200,
        appends_at_size=20,
        reads=40,
        runs=60,
        opens=10,
        writers=8,
        writer_appends=50,
        writer_rounds=3,
        budget=2.0,
        s3_calls=7,
        local_disk_sizes=(100, 10_000, 100_000),
        object_storage_sizes=(100, 10_000),
        object_storage_threads=1_000_000,
        async_adapter_quick=False,
    ),
    "full": Profile(
        name="full",
        sizes=(100, 1_000, 10_000, 100_000),
        full_read_max=100_000,
        s3_max_messages=10_000,
        seed_max_messages=100_000,
        threads=10_000,
        s3_threads=2_000,
        appends=500,
        appends_at_size=50,
        reads=100,
        runs=150,
        opens=20,
        writers=8,
        writer_appends=100,
        writer_rounds=5,
        budget=5.0,
        s3_calls=15,
        local_disk_sizes=(100, 10_000, 100_000),
        object_storage_sizes=(100, 10_000),
        object_storage_threads=1_000_000,
        async_adapter_quick=False,
        startup_runs=40,
    ),
}
