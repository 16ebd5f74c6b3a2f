"""The monitoring tables' charts, drawn on the server by matplotlib (Agg, no display): SVG images
for the page (each its own request, so that the page answers before its charts are drawn), PNG
in the management-review PDF. No script, no outside host.

A chart is a pure function of its numbers, so drawings are kept in a small cache (the page
opened every morning with the same figures draws nothing)."""

from __future__ import annotations

import io
import math
import textwrap
import threading
from dataclasses import dataclass
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from services.indicator_format import decimal
from services.indicator_tables import Table, Unit

matplotlib.rcParams.update(
    {
        "svg.fonttype": "none",  # text stays text: small, and the browser's fonts draw Turkish
        "svg.hashsalt": "kalite",  # the same numbers give the same drawing (cacheable, testable)
        "font.family": "DejaVu Sans",  # ships with matplotlib: every Turkish letter
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)
# Okabe–Ito: told apart by readers with colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
MAX_BARS = 20  # a longer table is drawn with its first rows; the HTML table below keeps them all
MAX_TICKS = 12
# matplotlib is not documented as thread-safe; the page draws in worker threads.
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Spec:
    """What a chart shows, hashable (the cache key): labels along x, one or more named series."""

    kind: str
    title: str
    labels: tuple[str, ...]
    series: tuple[tuple[str, tuple[float | None, ...]], ...]
    unit: Unit


def spec(table: Table) -> Spec | None:
    if table.chart is None or not table.rows:
        return None
    chart = table.chart
    rows = table.rows
    if chart.kind in ("bar", "hbar", "stacked-bar"):
        rows = rows[:MAX_BARS]
    labels = tuple(str(r[chart.x].value if r[chart.x].value is not None else "—") for r in rows)
    series = tuple(
        (table.columns[i], tuple(_number(r[i].value) for r in rows))
        for i in chart.y
        if i < len(table.columns)
    )
    if all(v is None for _, values in series for v in values):
        return None  # nothing to draw: the table says "veri yok"
    return Spec(chart.kind, table.title, labels, series, table.units[chart.y[0]])


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def svg(table: Table) -> bytes | None:
    """The chart as an SVG document (the page shows it as an <img> with label() as its text)."""
    found = spec(table)
    return None if found is None else _svg(found)


def warm() -> None:
    """One small drawing, so that the fonts are loaded before the first page needs them."""
    with _LOCK:
        _draw(Spec("bar", "ısınma", ("a",), (("b", (1.0,)),), Unit.COUNT)).savefig(io.BytesIO(), format="svg")


def size(found: Spec) -> tuple[int, int]:
    """The drawing's width and height in CSS pixels (the page reserves the room before it loads)."""
    width, height = _inches(found)
    return round(width * 96), round(height * 96)


def png(table: Table, *, dpi: int = 150) -> bytes | None:
    found = spec(table)
    return None if found is None else _png(found, dpi)


def label(found: Spec) -> str:
    names = ", ".join(name for name, _ in found.series)
    more = f"; ilk {MAX_BARS} satır çizildi" if len(found.labels) >= MAX_BARS and found.kind != "line" else ""
    return f"{found.title} grafiği ({names}){more}. Sayılar grafiğin altındaki tabloda."


@lru_cache(maxsize=256)
def _svg(found: Spec) -> bytes:
    buffer = io.BytesIO()
    with _LOCK:
        figure = _draw(found)
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Title": found.title})
    return buffer.getvalue()


@lru_cache(maxsize=64)
def _png(found: Spec, dpi: int) -> bytes:
    buffer = io.BytesIO()
    with _LOCK:
        figure = _draw(found)
        figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _draw(found: Spec) -> Figure:
    count = len(found.labels)
    percent = found.unit is Unit.PERCENT
    scale = 100.0 if percent else 1.0
    width_inches, height = _inches(found)
    figure = Figure(figsize=(width_inches, height))
    # Fixed margins sized from the labels: matplotlib's layout engines measure every text twice
    # and took half of the drawing time.
    ticks = _ticks(found)
    if found.kind == "hbar":
        longest = max((len(t) for t in found.labels), default=1)
        left, bottom = min(0.45, (0.25 + 0.075 * longest) / width_inches), 0.5 / height
    elif ticks.rotate:
        longest = max((len(t) for t in ticks.texts), default=1)
        first = len(ticks.texts[0]) if ticks.texts else 1
        left = min(0.4, max(0.6, 0.055 * first) / width_inches)
        bottom = min(0.45, (0.35 + 0.04 * longest) / height)
    else:
        lines = max((t.count("\n") + 1 for t in ticks.texts), default=1)
        left, bottom = 0.6 / width_inches, min(0.45, (0.2 + 0.16 * lines) / height)
    # Several series: their legend in a row above the plot (never over the data, and without
    # the search for a free corner that loc="best" costs).
    top = 1 - (0.35 if len(found.series) > 1 else 0.12) / height
    figure.subplots_adjust(left=left, right=0.98, top=top, bottom=bottom)
    axes = figure.add_subplot()
    positions = list(range(count))
    stacked = [0.0] * count
    width = 0.8 / (1 if found.kind in ("stacked-bar", "line") else max(1, len(found.series)))
    for index, (name, values) in enumerate(found.series):
        colour = PALETTE[index % len(PALETTE)]
        numbers = [math.nan if v is None else v * scale for v in values]
        if found.kind == "line":
            axes.plot(positions, numbers, label=name, color=colour, marker="o" if count <= 40 else None)
        elif found.kind == "stacked-bar":
            filled = [0.0 if math.isnan(n) else n for n in numbers]
            axes.bar(positions, filled, width, bottom=stacked, label=name, color=colour)
            stacked = [a + b for a, b in zip(stacked, filled, strict=True)]
        else:
            shift = [p + (index - (len(found.series) - 1) / 2) * width for p in positions]
            filled = [0.0 if math.isnan(n) else n for n in numbers]
            if found.kind == "hbar":
                axes.barh(shift, filled, width, label=name, color=colour)
            else:
                axes.bar(shift, filled, width, label=name, color=colour)
    # Counts, shares and durations are never negative: the axis starts at zero, and an all-zero
    # chart still has a scale (0 to 1) instead of matplotlib's symmetric one around zero.
    highest = max((v * scale for _, values in found.series for v in values if v is not None), default=0.0)
    if found.kind == "stacked-bar":
        highest = max(stacked, default=0.0)
    limits = (0.0, highest * 1.05) if highest > 0 else (0.0, 1.0)
    if found.kind == "hbar":
        axes.set_xlim(*limits)
    else:
        axes.set_ylim(*limits)
    value_axis = axes.xaxis if found.kind == "hbar" else axes.yaxis
    label_axis = axes.yaxis if found.kind == "hbar" else axes.xaxis
    value_axis.set_major_formatter(FuncFormatter(lambda v, _: _tick(v, percent)))
    if found.unit is Unit.COUNT:
        value_axis.set_major_locator(MaxNLocator(integer=True))
    label_axis.set_ticks(ticks.positions, ticks.texts)
    if ticks.rotate:
        for text in label_axis.get_ticklabels():
            text.set_rotation(30)
            text.set_horizontalalignment("right")
    if found.kind == "hbar":
        axes.invert_yaxis()  # the first row on top, as in the table
    axes.grid(axis="x" if found.kind == "hbar" else "y", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    if len(found.series) > 1:
        figure.legend(loc="upper center", ncols=len(found.series), fontsize=8, frameon=False)
    return figure


def _inches(found: Spec) -> tuple[float, float]:
    return 7.2, (max(2.4, 0.28 * len(found.labels) + 1.0) if found.kind == "hbar" else 3.0)


@dataclass(frozen=True)
class _Ticks:
    positions: list[int]
    texts: list[str]
    rotate: bool


def _ticks(found: Spec) -> _Ticks:
    """Which labels the label axis shows and how: every row of a bar chart (wrapped onto lines
    when there is room), at most MAX_TICKS of a long series (tilted)."""
    labels = found.labels
    if found.kind == "hbar":
        return _Ticks(list(range(len(labels))), list(labels), rotate=False)
    step = max(1, math.ceil(len(labels) / MAX_TICKS))
    positions = list(range(0, len(labels), step))
    if len(positions) <= 8:
        width = max(10, 72 // max(1, len(positions)))
        texts = ["\n".join(textwrap.wrap(labels[i], width)[:3]) or labels[i] for i in positions]
        return _Ticks(positions, texts, rotate=False)
    return _Ticks(positions, [labels[i] for i in positions], rotate=True)


def _tick(value: float, percent: bool) -> str:
    value = round(value, 6) + 0.0  # no "-0,0"
    text = decimal(value, 0 if float(value).is_integer() else 1)
    return f"%{text}" if percent else text
