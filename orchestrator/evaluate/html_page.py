"""The one HTML page every report is poured into: a Jinja2 template (``report.html.j2`` next to this module).

You must provide a title and (heading, HTML) sections whose HTML is already
escaped (tables from pandas, ``<img>`` tags with data URIs); you get one
self-contained page: no script, no stylesheet or image to fetch. Jinja2 comes
with the ``report`` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ani.kg.errors import ProjectError

TEMPLATE_DIR = Path(__file__).parent  # report.html.j2 (package data, not a sub-package)


class PageError(ProjectError, ImportError):
    """The page cannot be rendered (the report extra is missing)."""


def _environment() -> Any:
    try:
        import jinja2
    except ImportError as exc:
        raise PageError("HTML reports need the 'report' extra: pip install 'ani-twin[report]'") from exc
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True)


def render_page(title: str, sections: Sequence[tuple[str, str]], subtitle: str = "",
                source: str | Path = "", generator: str = "ani") -> str:
    """The page: ``title``, then each (heading, trusted HTML) section, then a footer naming the source."""
    from markupsafe import Markup

    env = _environment()
    return env.get_template("report.html.j2").render(
        title=title, subtitle=subtitle, sections=[(h, Markup(c)) for h, c in sections],
        source=str(source), generator=generator)
