"""Without the report extra, maps and pages say which extra to install (one line, the project's error)."""

from __future__ import annotations

import sys

import pytest

from ani.kg.errors import ProjectError
from ani.orchestrator.evaluate import html_page, network_map


def test_a_page_without_jinja2_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)  # import jinja2 now raises ImportError
    with pytest.raises(ProjectError, match=r"'report' extra: pip install 'ani-twin\[report\]'"):
        html_page.render_page("t", [("h", "<p>x</p>")])


def test_a_map_without_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(network_map.MapError, match=r"'report' extra"):
        network_map._plt()


def test_the_page_escapes_its_title_and_keeps_the_sections_html() -> None:
    page = html_page.render_page("a <b> & c", [("Head <1>", "<table><tr><td>1</td></tr></table>")], source="/x y")
    assert "<title>a &lt;b&gt; &amp; c</title>" in page and "<h2>Head &lt;1&gt;</h2>" in page
    assert "<table><tr><td>1</td></tr></table>" in page and "ani report /x y" in page
    assert "<footer>" not in html_page.render_page("t", [])
