"""Terminal and markdown tables, titled note lists and strict JSON for the analysis commands."""

from __future__ import annotations

import json
from typing import Any

from harness.untrusted import markdown, plain


def md_cell(text: str) -> str:
    """A markdown table cell or list item: one line, its markup inert (harness.untrusted)."""
    return markdown(text)


def table(head: list[str], rows: list[list[str]], fmt: str) -> list[str]:
    """A markdown table, or columns aligned for a terminal."""
    if fmt == "markdown":
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return lines + ["| " + " | ".join(map(md_cell, r)) + " |" for r in rows]
    every = [head, *([plain(v) for v in r] for r in rows)]
    widths = [max(len(r[i]) for r in every) for i in range(len(head))]
    return ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in every]


def sections(notes: list[tuple[str, list[str]]], fmt: str) -> list[str]:
    """Titled lists after the table; empty ones left out."""
    out: list[str] = []
    for title, items in notes:
        if items and fmt == "markdown":
            out += ["", f"**{title}** ({len(items)})", ""] + [f"- {md_cell(i)}" for i in items]
        elif items:
            out += ["", f"{title} ({len(items)}):"] + [f"  {plain(i)}" for i in items]
    return out


def json_text(data: Any) -> str:
    """Strict JSON: non-finite floats (NaN intervals of untested pairs) become null."""
    plain = json.loads(json.dumps(data), parse_constant=lambda _: None)
    return json.dumps(plain, indent=1, allow_nan=False) + "\n"
