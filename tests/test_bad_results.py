"""Malformed result and price files: every reader refuses them in one line, never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, make_harness
from harness.cli import main
from harness.errors import EXIT_USER_ERROR
from harness.results import BENCHMARKS, MANIFEST

DEEP = "__deep__"  # a value written as 100,000 nested lists, deeper than json.loads can go
BAD_VALUES: list[Any] = ["x", [], {}, None, math.nan, -1, 1e308, True, DEEP]
READERS = ("export", "summary", "report", "compare", "history", "crosscheck")


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real run of tiny triad in two processes, made once for the module."""
    base = tmp_path_factory.mktemp("real")
    result = make_harness(base)(
        "run", "--workloads", "triad", "--size", "tiny", "--mode", "speed", "--processes", "2",
        "--no-roofline", "--max-time", "0.05", "--out", str(base / "runs"),
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    return next((base / "runs").iterdir())


def _load(run: Path, name: str) -> Any:
    return json.loads((run / name).read_text())


def _write(path: Path, data: Any) -> None:
    text = json.dumps(data)
    path.write_text(text.replace(json.dumps(DEEP), "[" * 100_000 + "]" * 100_000))


def _copy(run: Path, dest: Path, manifest: Any = None, benchmarks: Any = None) -> Path:
    """A copy of ``run`` at ``dest``, its files replaced by the data given."""
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns("logs"))
    if manifest is not None:
        _write(dest / MANIFEST, manifest)
    if benchmarks is not None:
        _write(dest / BENCHMARKS, benchmarks)
    return dest


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key and index path in a JSON document (the first two items of each list)."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = list(enumerate(value))[:2]
    else:
        return
    for key, item in items:
        yield (*prefix, key)
        yield from _paths(item, (*prefix, key))


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    """Replace the field at ``path`` with ``value`` (delete it when value is ``...``)."""
    for key in path[:-1]:
        data = data[key]
    if value is ...:
        del data[path[-1]]
    else:
        data[path[-1]] = value


def cli(*argv: str) -> tuple[int, str]:
    """``harness ARGV`` in this process: its exit status and stderr (stdout is dropped)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        except Exception:
            pytest.fail(f"harness {' '.join(argv)} raised:\n{traceback.format_exc()}")
    return code, err.getvalue()


def _reader_args(reader: str, bad: Path, good: Path) -> list[str]:
    return {
        "export": ["export", str(bad)],
        "summary": ["export", "--summary", str(bad)],
        "report": ["report", str(bad), "-o", str(bad.parent / "r.html")],
        "compare": ["compare", str(good), str(bad)],
        "history": ["history", str(bad), str(good)],
        "crosscheck": ["crosscheck", str(bad), str(good)],
    }[reader]


def assert_clean(code: int, stderr: str) -> None:
    """A reader's outcome is a result (0, or 1 for compare/crosscheck) or one error line."""
    assert "Traceback" not in stderr
    assert code in (0, 1, EXIT_USER_ERROR), stderr
    if code == EXIT_USER_ERROR:
        assert len(stderr.strip().splitlines()) == 1, stderr
        assert stderr.startswith("harness: error: ")


def refused(run: Path, *needles: str) -> str:
    """Export's one error line for ``run``, checked to contain each needle."""
    code, stderr = cli("export", str(run))
    assert code == EXIT_USER_ERROR, stderr
    assert_clean(code, stderr)
    for needle in needles:
        assert needle in stderr, stderr
    return stderr


@settings(max_examples=60)
@given(data=st.data())
def test_every_reader_survives_any_field_of_a_real_run_mangled(real_run: Path, data: Any) -> None:
    """Any one field of a real manifest or benchmarks.json replaced by a value of another type
    (or removed) leaves each reader with a result or exactly one error line."""
    name = data.draw(st.sampled_from([MANIFEST, MANIFEST, BENCHMARKS]))
    document = _load(real_run, name)
    path = data.draw(st.sampled_from(sorted(_paths(document), key=str)))
    _set(document, path, data.draw(st.sampled_from([*BAD_VALUES, ...])))
    reader = data.draw(st.sampled_from(READERS))
    with tempfile.TemporaryDirectory(dir=real_run.parent.parent) as tmp:
        bad = _copy(real_run, Path(tmp) / "bad", **{name.split(".")[0]: document})
        good = _copy(real_run, Path(tmp) / "good")
        assert_clean(*cli(*_reader_args(reader, bad, good)))


def _mangled_case(real_run: Path, tmp_path: Path, path: tuple[Any, ...], value: Any) -> Path:
    manifest = _load(real_run, MANIFEST)
    _set(manifest, path, value)
    return _copy(real_run, tmp_path / "bad", manifest=manifest)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("cases", 0, "stats", "median_s"), "fast", "cases[0].stats.median_s is 'fast'"),
        (("cases", 0, "stats", "median_s"), math.nan, "cases[0].stats.median_s is nan"),
        (("cases", 0, "stats", "median_s"), -1.0, "cases[0].stats.median_s is -1.0"),
        (("cases", 0, "stats", "ci_low_s"), 0.0, "cases[0].stats.ci_low_s is 0.0"),
        (("cases", 0, "stats"), [1, 2], "cases[0].stats is [1, 2]"),
        (("cases", 0, "process_medians"), "1,2", "cases[0].process_medians is '1,2'"),
        (("cases", 0, "process_medians", 0), math.inf, "cases[0].process_medians[0] is inf"),
        (("cases", 0, "work"), 1e308, "cases[0].work is 1e+308"),
        (("cases", 0, "threads"), "one", "cases[0].threads is 'one'"),
        (("environment", "cpu"), "EPYC", "environment.cpu is 'EPYC'"),
        (("environment", "topology"), [2], "environment.topology is [2]"),
        (("environment", "topology"), None, "environment.topology is None"),
        (("options", "price"), "cheap", "options.price is 'cheap'"),
        (("options", "seed"), "abc", "options.seed is 'abc'"),
    ],
)
def test_a_manifest_with_a_field_of_the_wrong_type_is_refused_naming_it(
    real_run: Path, tmp_path: Path, path: tuple[Any, ...], value: Any, field: str
) -> None:
    """A wrong type or an out-of-range number is one line naming the file, field and value."""
    bad = _mangled_case(real_run, tmp_path, path, value)
    refused(bad, str(bad / MANIFEST), field)


def test_a_manifest_with_a_string_median_is_refused_naming_the_field(
    real_run: Path, tmp_path: Path
) -> None:
    """A string median is refused by every reader, each naming the field."""
    bad = _mangled_case(real_run, tmp_path, ("cases", 0, "stats", "median_s"), "1e-6")
    for reader in READERS:
        code, stderr = cli(*_reader_args(reader, bad, real_run))
        assert code == EXIT_USER_ERROR and "cases[0].stats.median_s" in stderr, (reader, stderr)
        assert_clean(code, stderr)


def test_a_manifest_nested_100000_deep_is_one_line(real_run: Path, tmp_path: Path) -> None:
    """A manifest deeper than json.loads can go is refused, not a RecursionError."""
    bad = _mangled_case(real_run, tmp_path, ("environment", "os"), DEEP)
    refused(bad, "nested too deeply")


def test_a_manifest_nested_deeper_than_the_schema_allows_is_refused(
    real_run: Path, tmp_path: Path
) -> None:
    """Nesting that json.loads reads but a recursive reader could not is refused with its path."""
    deep: Any = "x"
    for _ in range(500):
        deep = [deep]
    bad = _mangled_case(real_run, tmp_path, ("environment", "extra"), deep)
    refused(bad, "environment.extra", "nested more than 64 levels deep")


def test_a_huge_amount_of_work_never_reaches_the_report(real_run: Path, tmp_path: Path) -> None:
    """``work = 1e308`` would overflow the throughput to inf: the report is not written."""
    bad = _mangled_case(real_run, tmp_path, ("cases", 0, "work"), 1e308)
    code, stderr = cli("report", str(bad), "-o", str(tmp_path / "r.html"))
    assert code == EXIT_USER_ERROR and "cases[0].work" in stderr
    assert not (tmp_path / "r.html").exists()


def test_benchmarks_with_a_string_sample_are_refused_naming_it(
    real_run: Path, tmp_path: Path
) -> None:
    """A raw sample that is not a number names benchmarks.json and the sample's path."""
    bench = _load(real_run, BENCHMARKS)
    bench["benchmarks"][0]["stats"]["data"][1] = "slow"
    bad = _copy(real_run, tmp_path / "bad", benchmarks=bench)
    refused(bad, str(bad / BENCHMARKS), "benchmarks[0].stats.data[1] is 'slow'")


def test_benchmarks_with_a_list_for_extra_info_are_refused(real_run: Path, tmp_path: Path) -> None:
    """An ``extra_info`` that is not an object is refused, naming the field."""
    bench = _load(real_run, BENCHMARKS)
    bench["benchmarks"][0]["extra_info"] = ["triad"]
    bad = _copy(real_run, tmp_path / "bad", benchmarks=bench)
    refused(bad, "benchmarks[0].extra_info is ['triad']")


def _resume(real_run: Path, tmp_path: Path, path: tuple[Any, ...], value: Any) -> str:
    """``harness run --resume`` of a copy of the real run with one field changed: its error."""
    manifest = _load(real_run, MANIFEST)
    manifest["cases"][0]["status"] = "failed"  # something to resume
    _set(manifest, path, value)
    _copy(real_run, tmp_path / "out" / real_run.name, manifest=manifest)
    code, stderr = cli("run", "--resume", real_run.name, "--out", str(tmp_path / "out"))
    assert code == EXIT_USER_ERROR, stderr
    assert_clean(code, stderr)
    return stderr


def test_resume_of_a_manifest_without_options_is_one_line(real_run: Path, tmp_path: Path) -> None:
    """A manifest with no ``options`` cannot be resumed: one line says so."""
    assert "options is missing" in _resume(real_run, tmp_path, ("options",), ...)


def test_resume_of_a_manifest_without_timing_is_one_line(real_run: Path, tmp_path: Path) -> None:
    """A manifest whose options lack ``timing`` cannot be resumed: one line says so."""
    assert "options.timing is missing" in _resume(real_run, tmp_path, ("options", "timing"), ...)


def test_resume_of_a_manifest_without_profiles_is_one_line(real_run: Path, tmp_path: Path) -> None:
    """A manifest with no ``profiles`` cannot be resumed: one line says so."""
    assert "profiles is missing" in _resume(real_run, tmp_path, ("profiles",), ...)


def test_resume_of_a_case_without_its_workload_is_one_line(real_run: Path, tmp_path: Path) -> None:
    """A case that does not say its workload cannot be resumed: one line names it."""
    stderr = _resume(real_run, tmp_path, ("cases", 0, "workload"), ...)
    assert "cases[0].workload is missing" in stderr


def test_resume_of_a_manifest_with_a_text_seed_is_one_line(real_run: Path, tmp_path: Path) -> None:
    """``seed: "abc"`` is refused at load, naming the field and the value."""
    assert "options.seed is 'abc'" in _resume(real_run, tmp_path, ("options", "seed"), "abc")


def test_resume_of_timing_with_an_unknown_key_is_one_line(real_run: Path, tmp_path: Path) -> None:
    """A timing record with a key this harness does not know is named, not a TypeError."""
    stderr = _resume(real_run, tmp_path, ("options", "timing", "rounds"), 3)
    assert "options.timing.rounds is not a known field" in stderr


def test_a_price_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    """A price file in another encoding is refused naming the file, from a real subprocess."""
    prices = tmp_path / "prices.toml"
    prices.write_bytes('[[price]]\ntype = "c7g.large" # prix négocié\n'.encode("latin-1"))
    result = subprocess.run(
        [sys.executable, "-m", "harness", "targets", "--prices", str(prices)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert result.returncode == EXIT_USER_ERROR and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"harness: error: {prices}: not UTF-8 text (at byte 37)"
    ]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[[price]]\ntype = "c7g.large"\nprice_per_hour = 1' + "0" * 400 + '\nkind = "spot"\n',
         "key 'price_per_hour': must be positive and finite"),
        ('{"price": [{"type": "c7g.large"}]}', "not valid TOML"),
        ('[[price]]\ntype = ["c7g.large"]\nprice_per_hour = 0.1\nkind = "spot"\n',
         "key 'type': must be a text"),
        ('price = "cheap"\n', "no [[price]] rows"),
    ],
)  # fmt: skip
def test_a_malformed_price_file_is_one_line(tmp_path: Path, text: str, needle: str) -> None:
    """A price file with a huge integer, JSON syntax or wrong types is one line naming it."""
    prices = tmp_path / "prices.toml"
    prices.write_text(text)
    code, stderr = cli("targets", "--prices", str(prices))
    assert code == EXIT_USER_ERROR and needle in stderr and str(prices) in stderr, stderr
    assert_clean(code, stderr)


PRICE_VALUES = [
    '"c8g.large"',
    '"Standard_D2ps_v6"',
    "0.05",
    "-1",
    "0",
    "nan",
    "inf",
    "1" + "0" * 40,
    '""',
    "[1, 2]",
    "{ a = 1 }",
    "true",
    "2026-10-01",
    '"spot"',
    '"on-demand"',
    None,
]
PRICE_KEYS = ("type", "price_per_hour", "kind", "region", "date", "source", "unknown")


@settings(max_examples=40)
@given(data=st.data())
def test_every_price_reader_survives_a_mangled_price_file(real_run: Path, data: Any) -> None:
    """A price file whose rows hold values of any type, or raw garbage, leaves ``targets``,
    ``export`` and ``report`` with a result or exactly one error line."""
    rows = data.draw(
        st.lists(
            st.dictionaries(st.sampled_from(PRICE_KEYS), st.sampled_from(PRICE_VALUES)), max_size=3
        )
    )
    text = "".join(
        "[[price]]\n" + "".join(f"{k} = {v}\n" for k, v in row.items() if v) for row in rows
    )
    garbage = data.draw(st.sampled_from([b"", b"\xff\xfe", b"[[price]\n", b"\x00", b"= 1\n"]))
    reader = data.draw(st.sampled_from(["targets", "export", "report"]))
    with tempfile.TemporaryDirectory(dir=real_run.parent.parent) as tmp:
        prices = Path(tmp) / "prices.toml"
        prices.write_bytes(text.encode() + garbage)
        argv = {
            "targets": ["targets"],
            "export": ["export", str(real_run)],
            "report": ["report", str(real_run), "-o", str(Path(tmp) / "r.html")],
        }[reader]
        assert_clean(*cli(*argv, "--prices", str(prices)))
