"""Untrusted strings in results (host names, errors, workload fields, variables) stay inert text
in every output: the terminal, CSV, markdown for a job summary and the report's CSV rows."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURE_WORKLOADS, Harness, make_harness

# What a spreadsheet, a markdown renderer, rich and a terminal would each act on.
HOST = '=HYPERLINK("http://evil")<img src=x onerror=alert(1)>[/red]\x1b]8;;http://x\x07'
CPU = "<img src=x>![chip](http://e/p.png)[/red]\x1b[2J"
INSTANCE = "+[link=http://x]type[/link]"
ERROR = "@SUM(1+1) <b>bold</b> ![a](http://b) [c](http://d) `x` *b* | # \x1b[31mred [/red]"
SECRETS = {"MKL_LICENSE_KEY": "k-123", "NUMBA_DB_PASSWORD": "hunter2", "OMP_API_TOKEN": "t-9"}


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real run: triad, and a workload whose error is rich markup and escape codes, with
    secret-looking variables set; its printed output and its run directory."""
    tmp = tmp_path_factory.mktemp("injection")
    with pytest.MonkeyPatch.context() as env:
        for name, value in {**SECRETS, "NUMBA_NUM_THREADS": "2"}.items():
            env.setenv(name, value)
        result = make_harness(tmp)(
            "run", "--workloads", "faulty_markup,triad", "--size", "tiny", "--mode", "speed",
            "--no-roofline", "--workload-path", str(FIXTURE_WORKLOADS), "--out", str(tmp / "r"),
        )  # fmt: skip
    (run,) = (tmp / "r").iterdir()
    return {"result": result, "run": run, "tmp": tmp}


def _poisoned(real: dict[str, Any], name: str, error: str | None) -> Path:
    """A copy of the real run with hostile host fields, the triad case failed with ``error``
    when one is given, and a negative number in a numeric column."""
    run = shutil.copytree(real["run"], real["tmp"] / "poisoned" / name)
    manifest = json.loads((run / "manifest.json").read_text())
    env = manifest["environment"]
    manifest["run_id"], env["host"], env["cpu"]["name"] = name, HOST, CPU
    env["cloud"] = {**(env.get("cloud") or {}), "instance_type": INSTANCE}
    (triad,) = [c for c in manifest["cases"] if c["workload"] == "triad"]
    triad["host_load"] = {"steal": -0.25, "other_load": 0.0, "noisy": False}
    if error is not None:
        triad.update(status="failed", error=error)
        for key in ("throughput", "process_medians", "precision", "stats"):
            triad.pop(key, None)
    (run / "manifest.json").write_text(json.dumps(manifest))
    return run


@pytest.fixture(scope="module")
def runs(real: dict[str, Any]) -> tuple[Path, Path]:
    """A poisoned base run (triad ok) and candidate (triad broken with a hostile error)."""
    return _poisoned(real, "base", None), _poisoned(real, "cand", ERROR)


def test_a_case_error_with_markup_neither_aborts_the_run_nor_styles_the_terminal(
    real: dict[str, Any],
) -> None:
    """An error holding ``[/red]``, a rich link, ANSI/OSC escapes and an emoji code prints as
    text and the run goes on to the next workload."""
    result = real["result"]
    assert result.returncode == 1, result.stderr  # one case failed; the run itself did not
    assert "MarkupError" not in result.stderr and "Traceback" not in result.stderr
    cases = json.loads((real["run"] / "manifest.json").read_text())["cases"]
    assert {c["workload"]: c["status"] for c in cases} == {"faulty_markup": "failed",
                                                            "triad": "ok"}  # fmt: skip
    printed = result.stdout + result.stderr  # progress lines on stderr, the summary on stdout
    assert "\x1b" not in printed and "\x07" not in printed and "\u202e" not in printed
    assert "[/red] [link=http://evil.example]click[/link] \\x1b[31mred" in result.stderr
    assert "[link=http://evil.example]click[/link]" in result.stdout and "\\u202e" in printed
    assert ":smiley:" in result.stderr and "\U0001f603" not in printed  # no emoji codes either


def test_secret_looking_variables_are_recorded_with_their_values_redacted(
    real: dict[str, Any],
) -> None:
    """Allowlisted names that look secret are recorded as set, never with their value."""
    manifest = json.loads((real["run"] / "manifest.json").read_text())
    recorded = manifest["environment"]["env_vars"]
    assert {k: recorded[k] for k in SECRETS} == dict.fromkeys(SECRETS, "<redacted>")
    assert recorded["NUMBA_NUM_THREADS"] == "2"
    assert not any(v in json.dumps(manifest) for v in SECRETS.values())


def test_export_csv_neutralises_formula_cells(harness: Harness, runs: tuple[Path, Path]) -> None:
    """String cells starting with = + - @ get a leading quote and no escape code; negative
    numbers stay numbers, and JSON keeps the strings as they were."""
    text = harness("export", *map(str, runs), "--format", "csv").stdout
    rows = {r["run_id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert "\x1b" not in text and "\x07" not in text
    for row in rows.values():
        assert row["host"].startswith("'=HYPERLINK") and row["instance_type"] == "'" + INSTANCE
        assert row["steal"] == "-0.25"
    assert rows["cand"]["error"].startswith("'@SUM(1+1)")
    exported = json.loads(harness("export", *map(str, runs), "--format", "json").stdout)
    assert {r["host"] for r in exported} == {HOST} and ERROR in {r["error"] for r in exported}


def test_report_csv_rows_follow_the_export_rule(harness: Harness, runs: tuple[Path, Path],
                                                tmp_path: Path) -> None:  # fmt: skip
    """The rows the report embeds for its CSV download are neutralised as export's are."""
    page = tmp_path / "r.html"
    assert harness("report", *map(str, runs), "-o", str(page)).returncode == 0
    found = re.search(r'<script type="application/json" id="rows-data">(.*?)</script>',
                      page.read_text(), re.S)  # fmt: skip
    assert found is not None
    raw = json.loads(found.group(1))
    column = raw["columns"].index("host")
    assert {row[column] for row in raw["data"]} == {"'" + HOST.replace("\x1b", "\\x1b")
                                                    .replace("\x07", "\\x07")}  # fmt: skip


@pytest.mark.parametrize("command", ["compare", "history"])
def test_markdown_output_escapes_result_strings(
    harness: Harness, runs: tuple[Path, Path], command: str
) -> None:
    """Images, links, HTML and escape codes from results are inert text in the job summary."""
    out = harness(command, *map(str, runs), "--format", "markdown").stdout
    assert "&lt;img src=x&gt;" in out and "\\[link=http://x\\]type\\[/link\\]" in out
    for live in ("<img", "<b>", "![", "[c](", "\x1b", "\x07"):
        assert live not in out, live
    assert not re.search(r"(?<!\\)\]\(", out)  # no unescaped "](": no link or image


@pytest.mark.parametrize("command", ["compare", "history"])
def test_text_output_prints_no_terminal_escapes(
    harness: Harness, runs: tuple[Path, Path], command: str
) -> None:
    """Text output shows escape codes from results as ``\\x1b``, never sends them."""
    out = harness(command, *map(str, runs), "--format", "text").stdout
    assert "\x1b" not in out and "\x07" not in out and "\\x1b[2J" in out
