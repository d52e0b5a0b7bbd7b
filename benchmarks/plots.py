"""The report's figures as PNG files (matplotlib, Agg backend: no display needed).

Each contender keeps one colour across every plot; the line style says whose it is:
solid for threadstore, dashed for peers, dotted for the baselines. Error bars and bands
are the interquartile range (p25-p75).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from benchmarks.floors import ALONGSIDE_APPENDS, FSYNC_FLOOR, floor
from benchmarks.results import Figure, Results
from benchmarks.targets import memory_ratios
from benchmarks.units import DASH, TIMES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure as MplFigure

__all__ = ["draw_all"]

_STYLES = {"threadstore": "-", "peer": "--", "baseline": ":"}
_DPI = 110


def _colour(results: Results, label: str) -> str:
    labels = list(results.contenders)
    index = labels.index(label) if label in labels else len(labels)
    return f"C{index % 10}"


def _style(results: Results, label: str) -> str:
    info = results.contenders.get(label)
    return _STYLES.get(info.family, "-") if info else "-"


def _micro(figure: Figure) -> tuple[float, float, float]:
    """Median and the distances to p25 and p75, in microseconds (for error bars)."""
    s = figure.stats
    return s.median * 1e6, (s.median - s.p25) * 1e6, (s.p75 - s.median) * 1e6


def _bars(
    results: Results,
    axes: Axes,
    figures: list[Figure],
    floor: Figure | None,
    floor_label: str,
) -> None:
    """Horizontal bars of median latency (log scale) with IQR whiskers and a floor line."""
    figures = sorted(figures, key=lambda f: f.stats.median)
    medians, low, high = zip(*(_micro(f) for f in figures), strict=True)
    names = [f.contender for f in figures]
    axes.barh(
        names,
        medians,
        xerr=[low, high],
        color=[_colour(results, n) for n in names],
        capsize=3,
    )
    axes.set_xscale("log")
    axes.set_xlabel(f"µs per operation (median, whiskers p25{DASH}p75; log scale)")
    if floor is not None:
        axes.axvline(floor.stats.median * 1e6, color="black", linestyle="--", linewidth=1)
        axes.annotate(
            floor_label,
            xy=(floor.stats.median * 1e6, 0.98),
            xycoords=("data", "axes fraction"),
            rotation=90,
            fontsize=8,
            ha="right",
            va="top",
        )
    axes.invert_yaxis()


def _save(fig: MplFigure, directory: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(directory / name, dpi=_DPI)
    plt.close(fig)
    return name


def append_plot(results: Results, directory: Path) -> str | None:
    appends = results.of("append")
    if not appends:
        return None
    fig, axes = plt.subplots(figsize=(8, 0.45 * len(appends) + 1.5))
    floor_figure = floor(results, FSYNC_FLOOR, ALONGSIDE_APPENDS)
    _bars(results, axes, appends, floor_figure, "write+fdatasync floor")
    axes.set_title("Append one message (one writer; durable contenders commit each)")
    return _save(fig, directory, "append.png")


def writers_plot(results: Results, directory: Path) -> str | None:
    writers = sorted(results.of("writers"), key=lambda f: -f.extra["throughput"]["median"])
    if not writers:
        return None
    fig, axes = plt.subplots(figsize=(8, 0.45 * len(writers) + 1.5))
    names = [f.contender for f in writers]
    rates = [f.extra["throughput"] for f in writers]
    axes.barh(
        names,
        [r["median"] for r in rates],
        xerr=[[r["median"] - r["p25"] for r in rates], [r["p75"] - r["median"] for r in rates]],
        color=[_colour(results, n) for n in names],
        capsize=3,
    )
    axes.set_xlabel("appends per second, all processes together (median of rounds)")
    processes = writers[0].extra["processes"]
    axes.set_title(f"{processes} processes appending to one thread")
    axes.invert_yaxis()
    return _save(fig, directory, "writers.png")


def _growth_lines(
    results: Results,
    axes: Axes,
    select: Callable[[Figure], bool],
    value: Callable[[Figure], tuple[float, float, float]],
) -> None:
    """One line per contender: ``value`` (median, p25, p75) against thread size, log-log."""
    for label in results.contenders:
        figures = sorted(
            (f for f in results.figures if f.contender == label and select(f)),
            key=lambda f: f.size or 0,
        )
        if not figures:
            continue
        sizes = [f.size or 0 for f in figures]
        values = [value(f) for f in figures]
        colour = _colour(results, label)
        axes.plot(
            sizes,
            [v[0] for v in values],
            marker="o",
            markersize=4,
            linestyle=_style(results, label),
            color=colour,
            label=label,
        )
        axes.fill_between(
            sizes, [v[1] for v in values], [v[2] for v in values], color=colour, alpha=0.15
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("messages in the thread")
    axes.grid(True, which="major", alpha=0.3)


def _seconds(scale: float) -> Callable[[Figure], tuple[float, float, float]]:
    def value(figure: Figure) -> tuple[float, float, float]:
        s = figure.stats
        return s.median * scale, s.p25 * scale, s.p75 * scale

    return value


def _is_page(figure: Figure, position: str) -> bool:
    return figure.workload == "page" and figure.position == position


def page_plot(results: Results, directory: Path) -> str | None:
    if not results.of("page"):
        return None
    fig, panels = plt.subplots(1, 3, figsize=(14, 4.8), sharey=True)
    for axes, position in zip(panels, ("first", "middle", "last"), strict=True):
        _growth_lines(results, axes, partial(_is_page, position=position), _seconds(1e6))
        axes.set_title(f"page of 20, {position} page")
    panels[0].set_ylabel(f"µs per page (median, band p25{DASH}p75)")
    handles, labels = panels[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(directory / "pages.png", dpi=_DPI)
    plt.close(fig)
    return "pages.png"


def growth_plot(results: Results, directory: Path) -> str | None:
    """How an append and a full read grow with the thread (full read: per message)."""
    if not results.of("full-read") and not results.of("append-at-size"):
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    _growth_lines(results, left, lambda f: f.workload == "append-at-size", _seconds(1e6))
    left.set_title("append one message to a thread of N")
    left.set_ylabel("µs per append")

    def per_message(figure: Figure) -> tuple[float, float, float]:
        s, n = figure.stats, figure.size or 1
        return s.median / n * 1e6, s.p25 / n * 1e6, s.p75 / n * 1e6

    _growth_lines(results, right, lambda f: f.workload == "full-read", per_message)
    right.set_title("read the whole thread (prompt building)")
    right.set_ylabel("µs per message read")
    handles, labels = left.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    for handle, label in zip(*more, strict=True):
        if label not in labels:
            handles.append(handle)
            labels.append(label)
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(directory / "growth.png", dpi=_DPI)
    plt.close(fig)
    return "growth.png"


def round_trips_plot(results: Results, directory: Path) -> str | None:
    traced = results.of("s3")
    if not traced:
        return None
    fig, axes = plt.subplots(figsize=(9, 0.42 * len(traced) + 2.2))
    names = [f.extra["op"] for f in traced]
    wire = [f.extra["round_trips"] for f in traced]
    axes.barh(names, wire, color="C0", label="on the wire (proxy), warm call")
    first = [f.extra["first_call_round_trips"] for f in traced]
    axes.scatter(first, names, color="C1", marker="o", label="on the wire, first call")
    own = [f.extra.get("self_round_trips", math.nan) for f in traced]
    axes.scatter(own, names, color="black", marker="|", s=200, label="the store's own count")
    axes.axvline(2, color="red", linestyle="--", linewidth=1, label="page target: 2")
    axes.set_xlabel("sequential round trips per operation (median)")
    delay = traced[0].extra["delay"] * 1000
    axes.set_title(f"S3 (moto on loopback, +{delay:.0f} ms per request): round trips waited for")
    axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    axes.invert_yaxis()
    return _save(fig, directory, "s3_round_trips.png")


def memory_plot(results: Results, directory: Path) -> str | None:
    rows = memory_ratios(results)
    if not rows:
        return None
    fig, axes = plt.subplots(figsize=(8, 0.38 * len(rows) + 1.5))
    names = [name for name, _, _ in rows]
    axes.barh(names, [ours / plain for _, plain, ours in rows], color="C0")
    axes.axvline(5, color="red", linestyle="--", linewidth=1, label=f"target: 5{TIMES}")
    axes.set_xlabel("memory backend time ÷ plain dict-and-list time (medians)")
    axes.set_title("Memory backend against the plain dict-and-list store")
    axes.legend(fontsize=8)
    axes.invert_yaxis()
    return _save(fig, directory, "memory_vs_plain.png")


def draw_all(results: Results, directory: Path) -> tuple[dict[str, str], int]:
    """Draw every plot there is data for: plot name -> file name, and how many failed
    (each failure is listed with what was left out)."""
    directory.mkdir(parents=True, exist_ok=True)
    drawn = {}
    failed = 0
    for name, draw in (
        ("append", append_plot),
        ("writers", writers_plot),
        ("pages", page_plot),
        ("growth", growth_plot),
        ("s3", round_trips_plot),
        ("memory", memory_plot),
    ):
        try:
            file = draw(results, directory)
        except Exception as error:
            failed += 1
            results.skipped.append(f"plot {name}: FAILED: {type(error).__name__}: {error}")
            plt.close("all")
            continue
        if file is not None:
            drawn[name] = file
    return drawn, failed
