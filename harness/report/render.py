"""Render measured results as one self-contained, offline HTML price-performance report.

Every string in the results is untrusted: jinja2 autoescapes the page, plotly labels are
HTML-escaped (plotly.js reads a subset of HTML in labels) and every JSON block embedded in a
``<script>`` element has ``<``, ``>`` and ``&`` written as ``\\u003c``-style escapes. The page
makes no request: plotly.js is inlined once, the rows are embedded (the CSV download is built
from them in the browser) and the filters work on the page's own elements and figures.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from harness.measure.sample_stats import judged
from harness.outputs import check_output, write_output
from harness.report.data import REQUIRED_COLUMNS, ReportData, prepare
from harness.report.figures import price_chart, workload_charts
from harness.report.format import escape_json, flatten, is_ok, threads
from harness.report.history import history_charts
from harness.report.roofline import profile_charts, profile_rows, roofline_charts
from harness.report.scaling import scaling_charts
from harness.report.summary import summarise
from harness.report.tables import (
    case_rows,
    emulated_rows,
    host_envs,
    load_note,
    price_rows,
    status_text,
)
from harness.results import Run
from harness.units import MISSING
from harness.untrusted import csv_frame

__all__ = [
    "DEFAULT_TITLE", "MISSING", "REQUIRED_COLUMNS", "escape_json", "flatten", "is_ok",
    "render_report", "write_report",
]  # fmt: skip
DEFAULT_TITLE = "AI CPU workloads: price-performance"
TEMPLATE = "report.html.j2"
FILTERS = (("category", "Category"), ("arch", "Architecture"), ("cloud", "Cloud"))


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


def _rows_json(raw: pd.DataFrame) -> Markup:
    """The given rows as {"columns": [...], "data": [[...]]}: half the size of records. Only
    the CSV download reads them, so string cells come formula-neutralised, as export's do."""
    cells = csv_frame(raw)
    text = cells.to_json(orient="split", index=False, date_format="iso", default_handler=str)
    return escape_json(text)


def _case_line(r: dict[str, Any], note: str) -> str:
    """'dedup (tiny, rate, 4 threads, native) on host (arch): note'."""
    return (f"{r['workload']} ({r['size']}, {r['mode']}, {threads(r['threads'])}, "
            f"{r['profile']}) on {r['label']}: {note}")  # fmt: skip


def _validation(data: ReportData) -> dict[str, Any]:
    """Counts of valid, failed, unfinished and noisy cases; each failure with its error."""
    cur = data.cur
    failed = [_case_line(r, status_text(r)) for r in cur if r["state"] == "failed"]
    unfinished = [
        _case_line(r, status_text(r)) for r in cur if r["state"] in ("unfinished", "pending")
    ]
    noisy = [_case_line(r, load_note(r)) for r in cur if r["ok"] and r["noisy"]]
    valid = sum(bool(r["ok"]) for r in data.cur)
    return {"total": len(data.cur), "valid": valid, "failed": failed, "unfinished": unfinished,
            "noisy": noisy}  # fmt: skip


def _unfinished_runs(data: ReportData) -> list[str]:
    """'RUN_ID (interrupted)' for each run whose manifest says it did not finish."""
    return [f"{rid} ({info.status})" for rid in data.run_order()
            if (info := data.runs.get(rid)) is not None and info.unfinished]  # fmt: skip


def _intervals(data: ReportData) -> str:
    """How the table's intervals were computed, from the methods the cases record."""
    methods = Counter(str(r.get("ci_method")) for r in data.cur if r["ok"] and r.get("ci_method"))
    counted = sum(n for m, n in methods.items() if judged(m))
    parts = [f"95% CI from the medians of each case's worker processes (a t interval on their "
             f"logs; {counted} cases)"] if counted else []  # fmt: skip
    alone = sum(methods.values()) - counted
    if alone:
        parts.append(f"{alone} cases ran in one process and are not judged: its rounds cannot "
                     "show how processes differ")  # fmt: skip
    return "; ".join(parts) or "no case records how its interval was computed"


def _sections(data: ReportData, runs: Sequence[Run] | None, baseline: str | None) -> dict[str, Any]:
    """Every section's content, computed from the prepared rows."""
    summary = summarise(data.current, baseline, data.native)
    prices, unpriced = price_rows(data.cur)
    table = case_rows(data.cur)
    return {
        "summary": summary,
        "table": table,
        "intervals": _intervals(data),
        "show_cost": any(r.cost != MISSING for r in table),
        "show_latency": any(r.latency != MISSING for r in table),
        "validation": _validation(data),
        "unfinished_runs": _unfinished_runs(data),
        "charts": workload_charts(data),
        "price_chart": price_chart(summary, data),
        "scaling": scaling_charts(data),
        "rooflines": roofline_charts(data) if runs else None,
        "profile_rows": profile_rows(data.cur),
        "profile_charts": profile_charts(data.cur),
        "environments": host_envs(data.runs, data.run_order()),
        "prices": prices,
        "unpriced": unpriced,
        "emulated": emulated_rows(data.emulated),
        "history": history_charts(data, runs),
    }


def render_report(
    frame: pd.DataFrame,
    environments: list[dict[str, Any]],
    *,
    runs: Sequence[Run] | None = None,
    baseline: str | None = None,
    title: str = DEFAULT_TITLE,
) -> str:
    """Return the report as one self-contained HTML page (plotly.js inlined, no requests).

    ``frame``: export rows, ideally ``priced_rows`` output (bare ``rows`` output renders with
    every price marked missing). ``environments``: ``{"run_id", "env"}`` per run. ``runs``:
    the runs the rows came from, for their rooflines and dates (History). ``baseline``: the
    target, run id or host relative figures are read against (default: the first x86 target).
    """
    data = prepare(frame, environments, runs)
    filters = [(key, label, data.values(key)) for key, label in FILTERS]
    template = _jinja_env().get_template(TEMPLATE)
    return template.render(
        title=title,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        run_count=len(data.run_order()),
        filters=filters,
        rows_json=_rows_json(data.raw),
        row_count=len(data.raw),
        plotly_js=_plotly_js(),
        **_sections(data, runs, baseline),
    )


def write_report(
    frame: pd.DataFrame,
    environments: list[dict[str, Any]],
    out: Path,
    *,
    runs: Sequence[Run] | None = None,
    baseline: str | None = None,
    title: str = DEFAULT_TITLE,
) -> None:
    """Render the report and write it to out atomically; out's directory must exist, and out
    must not be a result file of ``runs``."""
    out = Path(out)
    check_output(out, runs or (), "report")
    page = render_report(frame, environments, runs=runs, baseline=baseline, title=title)
    write_output(out, page, "report")
