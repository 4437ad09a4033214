"""Untrusted strings made inert for each place they are written: terminal, markdown, CSV.

Host names, errors, workload fields, price sources and run ids come from result files and user
workloads, which may be another machine's or a hostile one's. Each must read as the text it is:
never as rich markup (``[/red]`` aborts a whole run with ``MarkupError``), terminal escapes
(OSC 8 links, ANSI colours), markdown or HTML in a GitHub job summary, or a spreadsheet formula.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from rich.markup import escape

if TYPE_CHECKING:  # pandas is slow to import; a run's progress lines never need it
    import pandas as pd

# C0 (but tab and newline), DEL, C1, and the bidirectional overrides that reorder what is shown
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# ( and ) are left: without [ and ] they make no link, and "regression(s)" stays readable
_MARKDOWN = re.compile(r"([\\`*_\[\]!|#~])")
# What a spreadsheet runs as a formula when a cell starts with it (OWASP's list).
FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")


def _code(match: re.Match[str]) -> str:
    char = match.group()
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def plain(value: object) -> str:
    """Text with control characters written as ``\\x1b``-style escapes, so no terminal escape
    (colour, cursor move, OSC 8 link, title change) or bidi override reaches the reader."""
    return _CONTROL.sub(_code, str(value))


def terminal(value: object) -> str:
    """Text to embed in a rich markup string: plain, with rich's markup brackets escaped, so
    ``[link=...]`` shows as written and ``[/red]`` cannot raise ``MarkupError``."""
    return escape(plain(value))


def markdown(value: object) -> str:
    """Text for a markdown line or table cell (a GitHub job summary): punctuation that makes
    links, images, emphasis, code, headings or cell breaks backslash-escaped, ``<>&`` written
    as HTML entities so no tag is parsed, and on one line."""
    text = _MARKDOWN.sub(r"\\\1", plain(value).replace("\n", " "))
    return html.escape(text, quote=False)


def csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: a string is ``plain`` (export goes to a
    terminal as often as to a file), and one starting with ``= + - @``, tab or CR gets a
    leading ``'``. Numbers (negative ones too) and other values are returned as they are, so
    numeric columns stay numeric."""
    if not isinstance(value, str):
        return value
    text = plain(value)
    return "'" + text if value.startswith(FORMULA_LEAD) else text


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every string cell passed through ``csv_cell``: what ``harness export``
    writes and what the report embeds for its CSV download, so both follow one rule."""
    out = frame.copy()
    for name in frame.select_dtypes(include=["object", "string"]).columns:
        out[name] = frame[name].map(csv_cell)
    return out
