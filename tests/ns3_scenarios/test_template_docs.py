"""The template README documents the input format the renderer writes (it had gone stale once)."""

from __future__ import annotations

import re
from pathlib import Path

import ani.ns3_scenarios.render as render

README = Path(render.__file__).resolve().parent / "ospf_failure" / "README.md"


def _records(block: str) -> list[str]:
    return [" ".join(line.split()) for line in block.strip().splitlines() if line.strip()]


def test_the_readme_input_format_is_the_renderers() -> None:
    readme = README.read_text()
    section = readme[readme.index("## `input.txt`"):]
    readme_block = re.search(r"```\n(.*?)```", section, re.S).group(1)
    doc = render.__doc__ or ""
    doc_block = doc.split("Input format (one record per line, whitespace-separated)::")[1].split("\n\n")[1]
    assert _records(readme_block) == _records(doc_block)
