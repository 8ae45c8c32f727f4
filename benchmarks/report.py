"""Sections of docs/benchmarks.md that belong to one benchmark each, between HTML comment markers.

`compare.py` renders the file's main part; other benchmarks (bench_close_deadline) own a marked
section, which `write_section` replaces in place and `marked_sections` hands back so that a re-render
of the main part keeps it.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["marked_sections", "write_section"]

_SECTION = re.compile(r"<!-- section:(?P<name>[\w-]+) -->\n.*?<!-- /section:(?P=name) -->\n", re.DOTALL)


def _wrap(name: str, body: str) -> str:
    return f"<!-- section:{name} -->\n{body.rstrip()}\n<!-- /section:{name} -->\n"


def marked_sections(text: str) -> str:
    """Every marked section of `text`, in order, each followed by a blank line."""
    return "".join(match.group(0) + "\n" for match in _SECTION.finditer(text))


def write_section(path: Path, name: str, body: str) -> None:
    """Replace section `name` of the file at `path` with `body` (appended if the file has none)."""
    text = path.read_text() if path.exists() else ""
    section = _wrap(name, body)
    pattern = re.compile(
        rf"<!-- section:{re.escape(name)} -->\n.*?<!-- /section:{re.escape(name)} -->\n", re.DOTALL
    )
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text, count=1)
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text)
