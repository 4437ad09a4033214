"""Formatting and escaping shared by the report's sections.

Every string in the results is untrusted. Two rules keep it text: plotly labels go through
``esc`` (plotly.js renders a subset of HTML in names, titles, ticks and hover text), and JSON
placed inside a ``<script>`` element goes through ``escape_json`` (no ``<``, ``>`` or ``&``).
Values that only scripts compare (filter keys in trace ``meta``) stay raw inside escaped JSON.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from markupsafe import Markup

from harness.measure.sample_stats import Estimate
from harness.units import MISSING, finite, missing

_JSON_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})

Figure = dict[str, Any]


def text(value: Any) -> str:
    """A display string, or MISSING for None/NaN."""
    return MISSING if missing(value) else str(value)


def num(value: Any) -> float | None:
    """A finite float for figure JSON, else None (JSON has no NaN; plotly reads null as a gap)."""
    return float(value) if finite(value) else None


def ratio(e: Estimate) -> str:
    """A relative figure with its interval, ``1.42x (1.31-1.52)`` (an en dash on the page)."""
    if not finite(e.value):
        return MISSING
    if e.has_interval:
        return f"{e.value:.3g}x ({e.low:.3g}\u2013{e.high:.3g})"
    return f"{e.value:.3g}x"


def threads(count: Any) -> str:
    """'1 thread', '4 threads'."""
    return f"{count} thread{'' if count == 1 else 's'}"


def usd(value: Any, digits: int = 4) -> str:
    """A dollar amount to ``digits`` significant digits, never in exponent notation."""
    if not finite(value):
        return MISSING
    places = max(digits - 1 - math.floor(math.log10(abs(value))), 0) if value else 2
    return f"${value:.{places}f}"


COST_SCALES = ((1e3, "thousand"), (1e6, "million"), (1e9, "billion"), (1e12, "trillion"))
READABLE_USD = 0.01  # the least typical cost a scale may show: below it, ticks read "250µ"
COST_TICKS = {"tickprefix": "$", "tickformat": ",.3~r"}  # plain dollars, never SI prefixes


@dataclass(frozen=True)
class CostScale:
    """How many units one cost figure is for: the export keeps USD per million units, but a
    fast workload's cost per million can be a millionth of a cent."""

    units: float
    name: str

    def of(self, usd_per_million: float) -> float:
        return usd_per_million * self.units / 1e6

    def per(self, unit: str) -> str:
        """'per billion tokens'."""
        return f"per {self.name} {unit}"


def cost_scale(rows: Iterable[dict[str, Any]]) -> CostScale:
    """The smallest scale at which the median cost of a workload's valid rows is at least
    READABLE_USD (per million units when none has a cost): its table cells and chart share it."""
    costs = (r["usd_per_million"] for r in rows if r["ok"])
    values = sorted(float(v) for v in costs if finite(v) and v > 0)
    scales = [CostScale(units, name) for units, name in COST_SCALES]
    if not values:
        return scales[1]
    typical = values[len(values) // 2]
    return next((s for s in scales if s.of(typical) >= READABLE_USD), scales[-1])


def is_ok(row: Any) -> bool:
    """True when a case is valid and has a positive finite median time and work."""
    valid = row["valid"]
    if missing(valid) or not bool(valid):
        return False
    return finite(row["median_s"]) and row["median_s"] > 0 and finite(row["work"])


def escape_json(text_: str) -> Markup:
    """Make JSON text safe inside a <script> element: no '<', '>' or '&' survives."""
    return Markup(text_.translate(_JSON_ESCAPES))  # safe: no '<', '>' or '&' is left


def dump(value: Any) -> Markup:
    """Strict JSON (NaN as null) escaped for a <script> element."""
    return escape_json(json.dumps(value, separators=(",", ":"), allow_nan=False, default=str))


def esc(value: Any) -> str:
    """HTML-escape a label for plotly.js, which renders a subset of HTML in labels."""
    return html.escape(text(value), quote=True)


def flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested dicts and lists into (dotted key, text) pairs, in insertion order."""
    if isinstance(value, dict) and value:
        items = [(f"{prefix}.{k}" if prefix else str(k), v) for k, v in value.items()]
        return [p for key, v in items for p in flatten(v, key)]
    if isinstance(value, list | tuple) and any(isinstance(v, dict | list | tuple) for v in value):
        return [p for i, v in enumerate(value) for p in flatten(v, f"{prefix}.{i}")]
    if isinstance(value, list | tuple):
        return [(prefix, ", ".join(text(v) for v in value))]
    if isinstance(value, dict):
        return [(prefix, "")] if prefix else []
    return [(prefix, text(value))]


def rows_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts, built column by column: ``to_dict("records")`` goes through the row
    indexer and is some fifty times slower on the report's wide frames."""
    columns = [str(c) for c in frame.columns]
    values = [frame[c].tolist() for c in frame.columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def _order(value: Any) -> tuple[int, float, str]:
    """Sort numbers before text, numbers by value: thread counts sort 1, 2, 16."""
    return (0, float(value), "") if finite(value) else (1, 0.0, text(value))


def group(
    rows: Iterable[dict[str, Any]], *keys: str
) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    """Rows by the values of ``keys``, groups in sorted key order, rows in their given order."""
    out: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(tuple(row[k] for k in keys), []).append(row)
    return dict(sorted(out.items(), key=lambda item: tuple(_order(v) for v in item[0])))
