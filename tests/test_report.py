"""Tests of the self-contained HTML report: content, escaping, offline use, atomic writes."""

from __future__ import annotations

import json
import math
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import UserError
from harness.pricing.rows import rows as export_rows
from harness.report import render
from harness.report.figures import pareto
from harness.report.format import cost_scale
from harness.report.render import escape_json, flatten, render_report, write_report
from harness.report.wording import sentence
from harness.results import SCHEMA, SCHEMA_VERSION, find_runs

HOSTILE_HOST = "<script>alert(1)</script>"
HOSTILE_INSTANCE = '"><img src=x onerror=alert(1)>'
HOSTILE_ERROR = "output mismatch </script><script>alert(3)</script>"
HOSTILE_ENV = "</script><img src=x onerror=alert(2)>"
RAW_MARKUP = ("<script>alert", "<img src=x onerror", "<img src=x")


def _case(run_id: str, host: str, arch: str, workload: str, mode: str, **kw: Any) -> dict[str, Any]:
    """One result row with sane defaults; keyword arguments override columns."""
    threads = 1 if mode == "speed" else 4
    median = 0.01 / threads
    row = {
        "run_id": run_id, "host": host, "arch": arch, "cpu": f"{arch} cpu",
        "llvm_cpu": "neoverse-v1" if arch == "aarch64" else "sapphirerapids",
        "instance_type": HOSTILE_INSTANCE if host == HOSTILE_HOST else None,
        "workload": workload, "category": "preprocess", "size": "tiny", "mode": mode,
        "threads": threads, "unit": "tokens" if workload == "tokenize" else "rows",
        "work": 1000.0, "median_s": median, "ci_low_s": median * 0.9, "ci_high_s": median * 1.1,
        "throughput": 1000.0 / median, "compile_s": 0.25, "valid": True, "error": None,
    }  # fmt: skip
    row.update(kw)
    return row


def _rows() -> pd.DataFrame:
    """Two hosts x two workloads x (speed, rate); the hostile host's rate `dedup` failed."""
    cases = []
    for run_id, host, arch in [("r1", "graviton4", "aarch64"), ("r2", HOSTILE_HOST, "x86_64")]:
        for workload in ("tokenize", "dedup"):
            for mode in ("speed", "rate"):
                cases.append(_case(run_id, host, arch, workload, mode))
    failed = {"median_s": math.nan, "ci_low_s": math.nan, "ci_high_s": math.nan,
              "throughput": math.nan, "valid": False, "error": HOSTILE_ERROR, "work": 777.0,
              "compile_s": 0.125}  # fmt: skip
    cases[-1].update(failed)
    return pd.DataFrame(cases)


def _environments() -> list[dict[str, Any]]:
    """Two runs' environments, one with hostile values and a key the report has never seen."""
    return [
        {"run_id": "r1", "env": {
            "host": "graviton4", "arch": "aarch64",
            "cpu": {"name": "Graviton4", "core": "neoverse-v2", "vendor": "AWS"},
            "software": {"numba": "0.61.0", "blas": [{"internal_api": "openblas", "threads": 4}]},
            "cloud": {"cloud": "aws", "instance_type": "c8g.xlarge", "source": "dmi"},
            "brand_new_key": {"nested": "shows up"},
        }},
        {"run_id": "r2", "env": {
            "host": HOSTILE_HOST, "arch": "x86_64",
            "cloud": {"instance_type": HOSTILE_INSTANCE},
            "env_vars": {"EVIL": HOSTILE_ENV},
        }},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def page() -> str:
    """The report rendered once for the whole module (plotly.js makes it about 5 MB)."""
    return render_report(_rows(), _environments(), title="Bench <b>&</b> report")


class _Tags(HTMLParser):
    """Collects start tags with their attributes and the text of table rows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[tuple[str, list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append((dict(attrs).get("class") or "", []))
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1][1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _parse(page: str) -> _Tags:
    """Parse a page (script bodies are raw text to the parser, as to a browser)."""
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


def _chart_json(page: str) -> dict[str, dict[str, Any]]:
    """The embedded plotly figures by chart id, parsed as JSON."""
    blocks = re.findall(r'<script type="application/json" data-chart="([^"]+)">(.*?)</script>',
                        page, re.S)  # fmt: skip
    return {dom_id: json.loads(text) for dom_id, text in blocks}


def _summary_rows(page: str) -> list[tuple[str, list[str]]]:
    """The summary table's body rows as (class, cell texts)."""
    return [row for row in _parse(page).rows if row[0] in ("ok", "failed")]


def test_plotly_js_is_inlined_exactly_once(page: str) -> None:
    """The plotly.js bundle is embedded once, whole, with no script loaded by src."""
    bundle = render._plotly_js()
    assert page.count(str(bundle)) == 1
    assert page.count("plotly.js v") == 1
    assert not [a for tag, a in _parse(page).tags if tag == "script" and "src" in a]


def test_page_makes_no_external_requests(page: str) -> None:
    """No tag, attribute or style outside the plotly.js bundle refers to another resource."""
    tags = _parse(page).tags
    assert not [t for t, _ in tags if t in ("link", "iframe", "img", "object", "embed", "base")]
    for _tag, attrs in tags:
        for name, value in attrs.items():
            if name in ("src", "href", "action", "data", "poster", "srcset"):
                pytest.fail(f"resource attribute {name}={value!r}")
            assert "://" not in (value or "")
    outside = page.replace(str(render._plotly_js()), "")
    for needle in ('src="http', 'href="http', "src='http", "@import", "url(", "//cdn"):
        assert needle not in outside


def test_one_chart_div_per_workload_with_its_figure(page: str) -> None:
    """Each workload gets one chart div and one JSON figure block with the same id."""
    divs = [str(a["id"]) for t, a in _parse(page).tags if t == "div" and a.get("class") == "chart"]
    figures = _chart_json(page)
    assert len(divs) == 2
    assert sorted(divs) == sorted(figures)
    titles = sorted(fig["layout"]["title"]["text"] for fig in figures.values())
    assert titles == ["dedup", "tokenize"]
    assert page.count("Plotly.newPlot(") == 1


def test_chart_bars_carry_asymmetric_ci_error_bars(page: str) -> None:
    """A bar's error bar spans work/ci_high_s .. work/ci_low_s around work/median_s."""
    figures = {f["layout"]["title"]["text"]: f for f in _chart_json(page).values()}
    trace = next(t for t in figures["tokenize"]["data"] if t["name"] == "graviton4 (aarch64)")
    assert trace["x"] == ["speed, 1 thread", "rate, 4 threads"]
    speed, plus, minus = (
        trace["y"][0],
        trace["error_y"]["array"][0],
        trace["error_y"]["arrayminus"][0],
    )
    assert speed == pytest.approx(1000.0 / 0.01)
    assert speed + plus == pytest.approx(1000.0 / (0.01 * 0.9))
    assert speed - minus == pytest.approx(1000.0 / (0.01 * 1.1))


@pytest.mark.parametrize("raw", RAW_MARKUP)
def test_hostile_strings_never_appear_as_markup(page: str, raw: str) -> None:
    """Host, instance type, error and environment values never reach the page as raw tags."""
    assert raw not in page


def test_hostile_strings_appear_as_escaped_text(page: str) -> None:
    """The hostile values are shown, as text, in the table and the environment section."""
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert "Bench &lt;b&gt;&amp;&lt;/b&gt; report" in page
    tags = {tag for tag, _ in _parse(page).tags}
    assert "img" not in tags and "b" not in tags


def test_no_script_element_is_closed_early(page: str) -> None:
    """Every </script> closes a script the template opened: embedded JSON cannot break out."""
    opened = len(re.findall(r"<script[\s>]", page))
    assert opened == page.count("</script>") == 3 + len(_chart_json(page))


def test_embedded_json_keeps_hostile_strings_as_data(page: str) -> None:
    """The JSON blocks parse and hold the hostile values (HTML-escaped for plotly labels)."""
    names = {t["name"] for fig in _chart_json(page).values() for t in fig["data"]}
    assert "&lt;script&gt;alert(1)&lt;/script&gt; (x86_64)" in names
    raw = re.search(r'<script type="application/json" id="rows-data">(.*?)</script>', page, re.S)
    assert raw is not None
    table = json.loads(raw.group(1))  # columnar: {"columns": [...], "data": [[...], ...]}
    records = [dict(zip(table["columns"], row, strict=True)) for row in table["data"]]
    assert {r["host"] for r in records} == {"graviton4", HOSTILE_HOST}
    assert HOSTILE_INSTANCE in {r["instance_type"] for r in records}


def test_failed_case_shows_its_error_and_no_number(page: str) -> None:
    """The failed case is marked failed with its error text, and every measured cell is empty."""
    failed = [cells for cls, cells in _summary_rows(page) if cls == "failed"]
    assert len(failed) == 1
    cells = failed[0]
    assert cells[-1] == f"failed {HOSTILE_ERROR}"
    assert cells[8:12] == [render.MISSING] * 4
    assert "rows/s" not in " ".join(cells)
    assert "77" not in " ".join(cells)  # work 777 must not leak as a rate either


def test_failed_case_is_not_drawn(page: str) -> None:
    """The chart of the failed workload has no bar for the failed (host, mode, threads)."""
    figures = {f["layout"]["title"]["text"]: f for f in _chart_json(page).values()}
    hostile = next(t for t in figures["dedup"]["data"] if "x86_64" in t["name"])
    assert hostile["x"] == ["speed, 1 thread"]
    assert all(math.isfinite(y) for t in figures["dedup"]["data"] for y in t["y"])


def test_valid_case_shows_throughput_ci_and_times(page: str) -> None:
    """A valid case shows throughput and its 95% CI in the workload's unit per second."""
    rows = _summary_rows(page)
    assert len(rows) == 8
    cells = next(c for cls, c in rows if c[:4] == ["tokenize", "speed", "1", "graviton4"])
    assert cells[8:12] == ["100 k tokens/s", "90.91 k \u2013 111.1 k tokens/s", "10 ms", "250 ms"]
    assert cells[-1] == "valid"


def test_environment_sections_show_flattened_keys(page: str) -> None:
    """Each run gets an environment table with dotted keys, unknown keys included."""
    pairs = [tuple(c) for cls, c in _parse(page).rows if len(c) == 2]
    assert ("cpu.core", "neoverse-v2") in pairs
    assert ("software.blas.0.internal_api", "openblas") in pairs
    assert ("brand_new_key.nested", "shows up") in pairs
    assert ("env_vars.EVIL", HOSTILE_ENV) in pairs
    assert page.count('<table class="env">') == 2


def test_flatten_joins_scalar_lists_and_numbers_nested_ones() -> None:
    """Scalar lists become one comma-joined value; lists of dicts get index keys."""
    env = {"a": {"b": [1, 2]}, "c": [{"d": None}], "e": {}}
    assert flatten(env) == [("a.b", "1, 2"), ("c.0.d", render.MISSING), ("e", "")]


@given(st.text())
def test_escape_json_round_trips_without_markup_characters(text: str) -> None:
    """Escaped JSON text has no '<', '>' or '&' and still parses to the same value."""
    escaped = escape_json(json.dumps({"k": text}))
    assert not set("<>&") & set(escaped)
    assert json.loads(escaped) == {"k": text}


def test_missing_columns_raise_user_error() -> None:
    """A frame without the required columns is rejected with their names."""
    with pytest.raises(UserError, match="median_s"):
        render_report(_rows().drop(columns=["median_s"]), [])


def test_empty_results_render_a_page() -> None:
    """No rows and no environments still give a valid page saying so."""
    html = render_report(_rows().iloc[0:0], [])
    assert "No results." in html and "No environment recorded." in html


def test_write_report_replaces_an_existing_file_whole(tmp_path: Path) -> None:
    """A pre-existing report is replaced by a complete page and no temp file is left."""
    out = tmp_path / "report.html"
    out.write_text("OLD CONTENT " * 100_000)
    write_report(_rows(), _environments(), out)
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert "OLD CONTENT" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_write_report_to_missing_directory_raises_and_writes_nothing(tmp_path: Path) -> None:
    """A report path under a missing directory raises UserError naming it; nothing is created."""
    missing = tmp_path / "no-such-dir"
    with pytest.raises(UserError, match="no-such-dir"):
        write_report(_rows(), _environments(), missing / "report.html")
    assert list(tmp_path.iterdir()) == []


def test_write_report_failure_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the final rename fails the old report is untouched and the temp file removed."""
    out = tmp_path / "report.html"
    out.write_text("old report")

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(UserError, match="disk full"):
        write_report(_rows(), _environments(), out)
    assert out.read_text() == "old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_sections_without_data_say_so_in_one_line(page: str) -> None:
    """Bare rows (no prices, one thread count per mode, no runs) give one line per section."""
    for line in ("No priced targets with whole-instance results",
                 "Every target ran one thread count", "The roofline needs the run directories",
                 "Each case ran under one compile profile", "History needs the run directories",
                 "No emulated results.", "No prices: these results were not priced"):  # fmt: skip
        assert line in page


def test_only_each_host_kinds_latest_run_is_compared() -> None:
    """A host measured twice shows its newer run in the tables; the older one stays in the data."""
    old = _rows().query("run_id == 'r1'").assign(median_s=0.5)
    html = render_report(pd.concat([old.assign(run_id="20250101T000000Z-0001"),
                                    _rows().query("run_id == 'r1'")]), [])  # fmt: skip
    cells = [c for cls, c in _summary_rows(html)]
    assert len(cells) == 4 and "2 k tokens/s" not in " ".join(" ".join(c) for c in cells)
    assert '"20250101T000000Z-0001"' in html  # the raw rows keep every run


def test_baseline_defaults_to_the_first_x86_target_and_says_so(page: str) -> None:
    """Without --baseline the incumbent (x86) is the baseline, and the page says how it chose."""
    assert "Baseline: &#34;&gt;&lt;img src=x onerror=alert(1)&gt; (the first x86-64 target" in page
    named = render_report(_rows(), [], baseline="graviton4")
    assert "Baseline: graviton4 (chosen with --baseline)." in named


def test_an_unknown_baseline_is_refused_naming_it_and_the_targets() -> None:
    """`report --baseline` of no target, run or host of the results is a user error, as export."""
    with pytest.raises(UserError, match=r"--baseline 'c9z\.huge' is no target.*graviton4"):
        render_report(_rows(), [], baseline="c9z.huge")


def test_pareto_frontier_keeps_what_no_cheaper_target_beats() -> None:
    """Sorted by price, a point joins the frontier only when it beats every cheaper point."""
    points = [(0.2, 1.0), (0.1, 0.5), (0.3, 0.9), (0.4, 2.0), (0.1, 0.7)]
    assert pareto(points) == [(0.1, 0.7), (0.2, 1.0), (0.4, 2.0)]


@pytest.mark.parametrize(
    ("low", "high", "n", "expected"),
    [(1.3, 1.5, 6, "1.4x the work per dollar of c7i on embed workloads (95% CI 1.3\u20131.5, "
                   "6 cases)."),
     (0.9, 1.6, 6, "no clear difference in work per dollar from c7i on embed workloads (1.4x, "
                   "95% CI 0.90\u20131.6, 6 cases)."),
     (math.nan, math.nan, 1, "1.4x the work per dollar of c7i on embed workloads; from 1 case "
                             "only: too few for an interval."),
     (math.nan, math.nan, 3, "1.4x the work per dollar of c7i on embed workloads; not judged: "
                             "all 3 cases were measured in one process on a side.")],
)  # fmt: skip
def test_verdict_claims_a_difference_only_when_the_interval_excludes_one(
    low: float, high: float, n: int, expected: str
) -> None:
    """A difference is claimed only when the interval excludes 1; without one, the reason."""
    method = "not judged: all 3 cases were measured in one process on a side" if n == 3 else "x"
    row = {"geomean": 1.4, "ci_low": low, "ci_high": high, "n": n, "category": "embed",
           "method": method}  # fmt: skip
    assert sentence("c8g", "c7i", "work per dollar", row) == f"c8g: {expected}"


def test_best_target_is_named_only_when_its_interval_clears_the_rest() -> None:
    """Overlapping intervals give "no clear winner"; a separated top target is named."""
    from harness.report.wording import top as _top

    def frame(low: float) -> pd.DataFrame:
        rows = [
            ("c8g.large", 1.5, low, 1.7),
            ("c7i.large", 1.0, 1.0, 1.0),
            ("c8a.large", 1.1, 0.9, 1.3),
        ]
        return pd.DataFrame([{"group": g, "category": "all", "geomean": v, "ci_low": lo,
                              "ci_high": hi, "n": 4} for g, v, lo, hi in rows])  # fmt: skip

    assert _top(frame(1.35), "all", "of c7i.large").startswith("c8g.large: 1.5x (1.35")
    assert _top(frame(1.2), "all", "of c7i.large").startswith("no clear winner (c8g.large")


def _sized_rows() -> pd.DataFrame:
    """One host's dedup at two sizes, each a rate sweep over 1 and 4 threads and a speed case."""
    shapes = [(size, mode, t) for size in ("tiny", "small")
              for mode, t in (("speed", 1), ("rate", 1), ("rate", 4))]  # fmt: skip
    cases = [_case("r1", "graviton4", "aarch64", "dedup", mode, size=size, threads=t)
             for size, mode, t in shapes]  # fmt: skip
    return pd.DataFrame(cases)


def test_two_sizes_of_one_case_get_two_bars_named_by_size() -> None:
    """A tiny and a small run of one case are two bars, each naming its size, never one."""
    html = render_report(_sized_rows(), [])
    (trace,) = [t for t in _chart_json(html)["chart-0"]["data"] if t.get("xaxis") is None]
    assert {"tiny, speed, 1 thread", "small, speed, 1 thread"} <= set(trace["x"])
    assert len(set(trace["x"])) == len(trace["x"]) == 6


def test_cases_table_shows_each_rows_size() -> None:
    """The cases table has a Size column holding each case's own size."""
    html = render_report(_sized_rows(), [])
    rows = _summary_rows(html)
    assert sorted(cells[7] for _, cells in rows) == ["small"] * 3 + ["tiny"] * 3


def test_scaling_draws_one_line_per_size() -> None:
    """Sweeps of two sizes on one host are two lines, not one zigzag over both."""
    html = render_report(_sized_rows(), [])
    (scaling,) = [f for key, f in _chart_json(html).items() if key.startswith("scaling-")]
    lines = [t for t in scaling["data"] if t.get("xaxis") == "x"]
    names = {t["name"]: t["x"] for t in lines}
    assert names == {"graviton4 (aarch64), small": [1, 4], "graviton4 (aarch64), tiny": [1, 4]}


def _planned(workload: str, status: str, **extra: Any) -> dict[str, Any]:
    """A manifest case as the harness plans it, with a status and what a run adds."""
    return {"id": f"{workload}/tiny/speed/t1/native", "workload": workload, "size": "tiny",
            "n": 1000, "mode": "speed", "threads": 1, "profile": "native",
            "category": "preprocess", "unit": "rows", "bound": "compute", "work": 1000,
            "bytes": 1e6, "flops": 1e6, "status": status, "error": None, **extra}  # fmt: skip


OK_STATS = {"median_s": 0.01, "ci_low_s": 0.009, "ci_high_s": 0.011, "rounds": 5}


def _run_page(tmp_path: Path, status: str, cases: list[dict[str, Any]]) -> str:
    """The report of one run directory written with manifest status ``status``."""
    run_dir = tmp_path / "results" / f"run-{status}"
    run_dir.mkdir(parents=True)
    env = {"host": "bench", "arch": "x86_64", "cpu": {"name": "Xeon"}}
    manifest = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "run_id": run_dir.name,
                "created": "2025-03-01T03:00:00+00:00", "status": status,
                "environment": env, "cases": cases}  # fmt: skip
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    runs = find_runs([tmp_path / "results"])
    return render_report(export_rows(runs), [], runs=runs)


def _status_cells(page: str) -> dict[str, str]:
    """The cases table's status cell by row class (the last row of each class)."""
    return {cls: cells[-1] for cls, cells in _parse(page).rows
            if cls in ("ok", "failed", "unfinished", "pending")}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "expected"),
    [("interrupted", "unfinished (run interrupted)"),
     ("running", "unfinished (run still running or killed)")],
)  # fmt: skip
def test_a_case_a_stopped_run_never_reached_reads_unfinished(
    tmp_path: Path, status: str, expected: str
) -> None:
    """A pending case of an interrupted or killed run reads unfinished, never failed."""
    html = _run_page(tmp_path, status, [_planned("tokenize", "ok", stats=OK_STATS),
                                        _planned("dedup", "pending")])  # fmt: skip
    assert _status_cells(html) == {"ok": "valid", "unfinished": expected}
    assert "1 of 2 cases valid, 1 unfinished." in html and "Failed cases" not in html


def test_the_page_names_each_unfinished_run_and_its_status(tmp_path: Path) -> None:
    """The page's head says which run is unfinished, by run id and manifest status."""
    html = _run_page(tmp_path, "interrupted", [_planned("dedup", "pending")])
    assert "run-interrupted (interrupted)" in html
    assert "unfinished-runs" not in _run_page(tmp_path / "b", "complete", [])


def test_a_pending_case_of_a_finished_run_reads_not_run_yet(tmp_path: Path) -> None:
    """A case still pending in a run marked complete was not run, and did not fail."""
    html = _run_page(tmp_path, "complete", [_planned("dedup", "pending")])
    assert _status_cells(html) == {"pending": "not run yet"}


@pytest.mark.parametrize(("error", "expected"), [("output mismatch", "failed output mismatch"),
                                                 (None, "failed")])  # fmt: skip
def test_a_failed_case_reads_failed_once(tmp_path: Path, error: str | None, expected: str) -> None:
    """A failed case says failed once, with its error when it recorded one."""
    html = _run_page(tmp_path, "complete", [_planned("dedup", "failed", error=error)])
    assert _status_cells(html) == {"failed": expected}
    assert "failed failed" not in html


@pytest.mark.parametrize(
    ("usd_per_million", "name"),
    [([2.8e-7], "trillion"), ([1e-4, 3e-4, 2e-4], "billion"), ([0.02], "million"),
     ([50.0], "thousand"), ([], "million")],
)  # fmt: skip
def test_cost_scale_is_the_smallest_giving_a_typical_cent(
    usd_per_million: list[float], name: str
) -> None:
    """The scale is the smallest count of units whose typical cost is at least $0.01."""
    rows = [{"ok": True, "usd_per_million": v} for v in usd_per_million]
    assert cost_scale([*rows, {"ok": False, "usd_per_million": 1e9}]).name == name


def _priced_rows(cost: float) -> pd.DataFrame:
    """Two rate cases of one workload costing about ``cost`` USD per million rows."""
    cases = [_case(rid, host, arch, "dedup", "rate", usd_per_million=cost * k,
                   usd_per_million_low=cost * k * 0.9, usd_per_million_high=cost * k * 1.1)
             for rid, host, arch, k in [("r1", "graviton4", "aarch64", 1.0),
                                        ("r2", "sapphire", "x86_64", 2.0)]]  # fmt: skip
    return pd.DataFrame(cases)


def test_cost_chart_shows_plain_dollars_on_the_workloads_scale() -> None:
    """A tiny cost per million is drawn per trillion units, in dollars, and says so."""
    (figure,) = _chart_json(render_report(_priced_rows(2.8e-7), [])).values()
    cost = [t for t in figure["data"] if t.get("yaxis") == "y2"]
    assert [round(t["y"][0], 6) for t in cost] == [0.28, 0.56]
    assert all("per trillion rows" in t["hovertemplate"] for t in cost)
    yaxis = figure["layout"]["yaxis2"]
    assert yaxis["title"]["text"] == "USD per trillion rows"
    assert yaxis["tickprefix"] == "$" and "s" not in yaxis["tickformat"]


def test_cost_cells_name_their_scale_and_export_rows_keep_per_million() -> None:
    """Table cells give the cost on the chart's scale; the embedded rows keep USD per million."""
    html = render_report(_priced_rows(2.8e-7), [])
    cells = [cells for _, cells in _summary_rows(html)]
    assert cells[0][13] == "$0.2800 ($0.2520\u2013$0.3080) per trillion rows"
    raw = re.search(r'<script type="application/json" id="rows-data">(.*?)</script>', html, re.S)
    table = json.loads(raw.group(1)) if raw else {}
    column = table["columns"].index("usd_per_million")
    assert [row[column] for row in table["data"]] == [2.8e-7, 5.6e-7]
