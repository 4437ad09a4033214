"""Render measured results as one self-contained, offline HTML report.

Every string in the results is untrusted: jinja2 autoescapes the page, plotly labels are
HTML-escaped (plotly.js reads a subset of HTML in labels) and every JSON block embedded in a
``<script>`` element has ``<``, ``>`` and ``&`` written as ``\\u003c``-style escapes.
"""

from __future__ import annotations

import contextlib
import functools
import html
import math
import numbers
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
import plotly.graph_objects as go
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from harness.errors import UserError

DEFAULT_TITLE = "AI CPU workloads: throughput"
TEMPLATE = "report.html.j2"
REQUIRED_COLUMNS = (
    "run_id", "host", "arch", "cpu", "instance_type", "workload", "category", "size", "mode",
    "threads", "unit", "work", "median_s", "ci_low_s", "ci_high_s", "compile_s",
    "valid", "error",
)  # fmt: skip
_SI_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_JSON_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})
MISSING = "—"
_MODE_ORDER = {"speed": 0, "rate": 1}
_TEXT_FIELDS = ("workload", "mode", "host", "arch", "cpu", "instance_type", "size")


@dataclass(frozen=True)
class TableRow:
    """One measured case, formatted for the summary table."""

    workload: str
    mode: str
    threads: int
    host: str
    arch: str
    cpu: str
    instance_type: str
    size: str
    ok: bool
    throughput: str
    ci: str
    median: str
    compile: str
    error: str


@dataclass(frozen=True)
class Chart:
    """One workload's bar chart: a DOM id and the escaped figure JSON."""

    dom_id: str
    workload: str
    figure_json: Markup


@dataclass(frozen=True)
class EnvSection:
    """One run's environment as flattened key/value pairs."""

    run_id: str
    host: str
    pairs: list[tuple[str, str]]


def _missing(value: Any) -> bool:
    """True for None, pandas NA and NaN."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, numbers.Real) and math.isnan(value)


def _text(value: Any) -> str:
    """Return a display string, or MISSING for None/NaN."""
    return MISSING if _missing(value) else str(value)


def _finite(value: Any) -> bool:
    """True when value is a finite real number (not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _si(value: float) -> str:
    """Format a number with four significant digits and an SI prefix (k, M, G, T)."""
    for scale, prefix in _SI_PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.4g} {prefix}"
    return f"{value:.4g}"


def _seconds(value: Any) -> str:
    """Format a duration in s, ms or µs; MISSING when not a finite number."""
    if not _finite(value):
        return MISSING
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {unit}"
    return f"{value / 1e-9:.4g} ns"


def is_ok(row: pd.Series) -> bool:
    """True when a case is valid and has a positive finite median time and work."""
    valid = row["valid"]
    if _missing(valid) or not bool(valid):
        return False
    return _finite(row["median_s"]) and row["median_s"] > 0 and _finite(row["work"])


def throughput_ci(row: pd.Series) -> tuple[float, float]:
    """Return the throughput 95% CI (work/ci_high_s, work/ci_low_s); NaN where unknown."""
    low_s, high_s, work = row["ci_low_s"], row["ci_high_s"], row["work"]
    low = work / high_s if _finite(high_s) and high_s > 0 else math.nan
    high = work / low_s if _finite(low_s) and low_s > 0 else math.nan
    return low, high


def _table_row(row: pd.Series) -> TableRow:
    """Format one measured case; a failed case carries no numbers, only its error."""
    ok = is_ok(row)
    unit = f"{_text(row['unit'])}/s"
    throughput = ci = median = compile_ = MISSING
    if ok:
        throughput = f"{_si(row['work'] / row['median_s'])} {unit}"
        low, high = throughput_ci(row)
        if math.isfinite(low) and math.isfinite(high):
            ci = f"{_si(low)} \u2013 {_si(high)} {unit}"
        median, compile_ = _seconds(row["median_s"]), _seconds(row["compile_s"])
    error = "" if ok else (_text(row["error"]) if _text(row["error"]) != MISSING else "failed")
    texts = {name: _text(row[name]) for name in _TEXT_FIELDS}
    return TableRow(**texts, threads=int(row["threads"]), ok=ok, throughput=throughput, ci=ci,
                    median=median, compile=compile_, error=error)  # fmt: skip


def _run_labels(rows: pd.DataFrame) -> dict[str, str]:
    """Name each run by host and arch, adding the run id when a host has several runs."""
    runs = rows.drop_duplicates("run_id")
    base = {
        str(rid): f"{_text(host)} ({_text(arch)})"
        for rid, host, arch in zip(runs["run_id"], runs["host"], runs["arch"], strict=True)
    }
    counts = pd.Series(list(base.values())).value_counts()
    return {rid: f"{lab} [{rid}]" if counts[lab] > 1 else lab for rid, lab in base.items()}


def escape_json(text: str) -> Markup:
    """Make JSON text safe inside a <script> element: no '<', '>' or '&' survives."""
    return Markup(text.translate(_JSON_ESCAPES))  # safe: no '<', '>' or '&' is left


def _esc(value: Any) -> str:
    """HTML-escape a label for plotly.js, which renders a subset of HTML in labels."""
    return html.escape(_text(value), quote=True)


def _category(row: pd.Series) -> str:
    """The x-axis category of a case: its mode and thread count."""
    threads = int(row["threads"])
    return _esc(f"{_text(row['mode'])}, {threads} thread{'' if threads == 1 else 's'}")


def _bar_trace(cases: pd.DataFrame, label: str, unit: str) -> go.Bar:
    """One bar per (mode, threads) of one run, with asymmetric CI error bars."""
    x, y, plus, minus = [], [], [], []
    for _, row in cases.iterrows():
        value = row["work"] / row["median_s"]
        low, high = throughput_ci(row)
        x.append(_category(row))
        y.append(value)
        plus.append(high - value if math.isfinite(high) else None)
        minus.append(value - low if math.isfinite(low) else None)
    return go.Bar(
        name=_esc(label),
        x=x,
        y=y,
        customdata=[[_esc(label)]] * len(x),
        error_y={"type": "data", "symmetric": False, "array": plus, "arrayminus": minus},
        hovertemplate="%{customdata[0]}<br>%{x}<br>%{y:.4s} " + _esc(unit) + "/s<extra></extra>",
    )


def _figure(workload: str, cases: pd.DataFrame, labels: dict[str, str]) -> go.Figure:
    """Build one workload's grouped bar chart of valid cases."""
    unit = _text(cases["unit"].iloc[0])
    valid = cases[[is_ok(row) for _, row in cases.iterrows()]]
    order = list(dict.fromkeys(_category(row) for _, row in valid.iterrows()))
    fig = go.Figure()
    for run_id, group in valid.groupby("run_id", sort=True):
        fig.add_trace(_bar_trace(group, labels[str(run_id)], unit))
    fig.update_layout(
        title={"text": _esc(workload)},
        barmode="group",
        template="plotly_white",
        yaxis={"title": {"text": _esc(f"{unit}/s")}, "rangemode": "tozero"},
        xaxis={"type": "category", "categoryorder": "array", "categoryarray": order},
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        height=420,
    )
    if valid.empty:
        fig.add_annotation(
            text="no valid measurements", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
        )
    return fig


def _charts(rows: pd.DataFrame) -> list[Chart]:
    """One chart per workload, in name order."""
    labels = _run_labels(rows)
    charts = []
    for index, (workload, cases) in enumerate(rows.groupby("workload", sort=True)):
        fig_json = _figure(str(workload), cases, labels).to_json()
        charts.append(Chart(f"chart-{index}", str(workload), escape_json(fig_json)))
    return charts


def flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested dicts and lists into (dotted key, text) pairs, in insertion order."""
    if isinstance(value, dict) and value:
        items = [(f"{prefix}.{k}" if prefix else str(k), v) for k, v in value.items()]
        return [p for key, v in items for p in flatten(v, key)]
    if isinstance(value, list | tuple) and any(isinstance(v, dict | list | tuple) for v in value):
        return [p for i, v in enumerate(value) for p in flatten(v, f"{prefix}.{i}")]
    if isinstance(value, list | tuple):
        return [(prefix, ", ".join(_text(v) for v in value))]
    if isinstance(value, dict):
        return [(prefix, "")] if prefix else []
    return [(prefix, _text(value))]


def _env_sections(environments: list[dict[str, Any]]) -> list[EnvSection]:
    """One section per run, its environment flattened to dotted keys."""
    sections = []
    for entry in environments:
        env = entry.get("env") or {}
        host = env.get("host") if isinstance(env, dict) else None
        sections.append(EnvSection(_text(entry.get("run_id")), _text(host), flatten(env)))
    return sections


def _check_columns(rows: pd.DataFrame) -> None:
    """Raise UserError naming the columns the report needs but the frame lacks."""
    missing = [c for c in REQUIRED_COLUMNS if c not in rows.columns]
    if missing:
        raise UserError(f"result rows lack columns: {', '.join(missing)}")


def _ordered(rows: pd.DataFrame) -> pd.DataFrame:
    """Sort cases by workload, mode (speed first), threads, host and run."""
    rank = rows["mode"].map(_MODE_ORDER).fillna(len(_MODE_ORDER))
    keys = ["workload", "_rank", "mode", "threads", "host", "run_id"]
    return rows.assign(_rank=rank).sort_values(keys, kind="stable").drop(columns="_rank")


@functools.cache
def _jinja_env() -> jinja2.Environment:
    """The template environment: autoescape on, undefined names are errors."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("reports", ""),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _plotly_js() -> Markup:
    """plotly.js source, safe to inline in a <script> element."""
    return Markup(get_plotlyjs().replace("</script", "<\\/script"))  # trusted, cannot close


def render_report(
    rows: pd.DataFrame, environments: list[dict[str, Any]], *, title: str = DEFAULT_TITLE
) -> str:
    """Return the report as one self-contained HTML page (plotly.js inlined, no requests)."""
    _check_columns(rows)
    ordered = _ordered(rows)
    records = ordered.to_json(orient="records", date_format="iso", default_handler=str)
    template = _jinja_env().get_template(TEMPLATE)
    return template.render(
        title=title,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        table=[_table_row(row) for _, row in ordered.iterrows()],
        charts=_charts(ordered),
        environments=_env_sections(environments),
        rows_json=escape_json(records),
        plotly_js=_plotly_js(),
    )


def write_report(
    rows: pd.DataFrame,
    environments: list[dict[str, Any]],
    out: Path,
    *,
    title: str = DEFAULT_TITLE,
) -> None:
    """Render the report and write it to out atomically; out's directory must exist."""
    out = Path(out)
    if not out.parent.is_dir():
        raise UserError(f"report directory does not exist: {out.parent}")
    data = render_report(rows, environments, title=title).encode("utf-8")
    try:
        _atomic_write(out, data)
    except OSError as exc:
        raise UserError(f"cannot write report {out}: {exc}") from exc


def _atomic_write(path: Path, data: bytes) -> None:
    """Write a temp file beside path, fsync it, then os.replace it over path."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Persist a rename by syncing its directory (best effort; not all systems allow it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
