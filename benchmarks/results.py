"""What a run measured: figures, the contenders they belong to, and what was skipped.

A run can be saved as JSON and the report rendered again from it (``--results`` and
``--report-from``), so changing how the report reads does not mean measuring again.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.measure import Stats

__all__ = ["ContenderInfo", "Count", "Figure", "Results"]


@dataclass(frozen=True)
class Figure:
    """One measured figure: a workload, a contender, its parameters and the timings.

    ``stats`` is seconds per operation unless the workload says otherwise; ``extra``
    holds what else the workload observed (throughput, requests, round trips, checks).
    """

    workload: str
    contender: str
    stats: Stats
    size: int | None = None
    position: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Count:
    """Requests and sequential round trips of one operation, as a backend counts them."""

    workload: str
    contender: str
    size: int
    operation: str
    requests: int
    round_trips: int


@dataclass(frozen=True)
class ContenderInfo:
    label: str
    family: str
    durable: bool
    description: str


@dataclass
class Results:
    """Everything one run produced, in the order it was measured."""

    figures: list[Figure] = field(default_factory=list)
    counts: list[Count] = field(default_factory=list)
    printed: dict[str, list[str]] = field(default_factory=dict)
    """What a benchmark that reports by printing printed, by benchmark."""
    contenders: dict[str, ContenderInfo] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    """Contenders or workloads left out of this run, each with the reason."""
    facts: dict[str, str] = field(default_factory=dict)
    """Machine and run facts (CPU count, versions, load, duration)."""
    busiest: float = 0.0
    """The highest 1-minute load average seen at the start or the end, per CPU."""

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def get(
        self,
        workload: str,
        contender: str,
        size: int | None = None,
        position: str | None = None,
    ) -> Figure | None:
        for figure in self.figures:
            if (figure.workload, figure.contender, figure.size, figure.position) == (
                workload,
                contender,
                size,
                position,
            ):
                return figure
        return None

    def of(self, workload: str) -> list[Figure]:
        return [figure for figure in self.figures if figure.workload == workload]

    def labels(self, workload: str) -> list[str]:
        """Contenders measured in ``workload``, in the order they were measured."""
        seen: dict[str, None] = {}
        for figure in self.of(workload):
            seen.setdefault(figure.contender, None)
        return list(seen)

    def sizes(self, workload: str) -> list[int]:
        return sorted({f.size for f in self.of(workload) if f.size is not None})

    def save(self, path: Path) -> None:
        """Write everything measured as JSON."""
        path.write_text(json.dumps(dataclasses.asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> Results:
        """Read what :meth:`save` wrote."""
        raw = json.loads(path.read_text())
        figures = [
            Figure(**{**figure, "stats": Stats(**figure["stats"])}) for figure in raw["figures"]
        ]
        return cls(
            figures=figures,
            counts=[Count(**count) for count in raw["counts"]],
            printed=raw["printed"],
            contenders={label: ContenderInfo(**info) for label, info in raw["contenders"].items()},
            skipped=raw["skipped"],
            facts=raw["facts"],
            busiest=raw["busiest"],
        )
