"""One self-contained HTML page: headings, paragraphs, tables and embedded PNG charts.

:class:`Report` builds the page of a run, a sweep or a comparison. Styles are inline and
charts are embedded as data URIs (and kept as PNG files for ``charts/``), so the page needs no
network access; nothing in it depends on the clock.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from recframe._version import __version__
from recframe.evaluation.value_text import show

if TYPE_CHECKING:
    from matplotlib.figure import Figure


CHARTS_DIR = "charts"


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; }
.warning { color: #8a4b00; } .note { color: #555; } figure { display: inline-block; margin: 0.5em; }
"""


@dataclass
class Report:
    """An HTML page being built, and the PNG charts that go beside it."""

    title: str
    parts: list[str] = field(default_factory=list)
    charts: dict[str, bytes] = field(default_factory=dict)
    chart_files: bool = True
    """Keep each chart's PNG for ``charts/`` (and name it in the caption); else only embed it."""

    def heading(self, text: str) -> None:
        """Add a section heading."""
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def paragraph(self, text: str, css: str = "") -> None:
        """Add a paragraph of plain text (escaped), with an optional CSS class."""
        cls = f' class="{css}"' if css else ""
        self.parts.append(f"<p{cls}>{html.escape(text)}</p>")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]], text_columns: int = 1) -> None:
        """Add a table; floats show 4 decimals, a cell written ``**like this**`` is bold."""

        def cell(tag: str, i: int, value: Any) -> str:
            cls = ' class="text"' if i < text_columns else ""
            shown = show(value)
            bold = shown.startswith("**") and shown.endswith("**")
            shown = html.escape(shown.strip("*")) if bold else html.escape(shown)
            return f"<{tag}{cls}>{'<b>' + shown + '</b>' if bold else shown}</{tag}>"

        head = "".join(cell("th", i, h) for i, h in enumerate(header))
        body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def chart(self, name: str, figure: Figure, caption: str) -> None:
        """Embed a matplotlib figure as a PNG data URI, and keep the PNG for ``charts/``."""
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
        data = buffer.getvalue()
        path = f"{CHARTS_DIR}/{_file_name(name)}.png"
        if self.chart_files:
            self.charts[path] = data
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        where = f" ({html.escape(path)})" if self.chart_files else ""
        self.parts.append(
            f'<figure><img src="{uri}" alt="{html.escape(caption)}" width="480">'
            f"<figcaption>{html.escape(caption)}{where}</figcaption></figure>"
        )

    def preformatted(self, text: str) -> None:
        """Add preformatted text (the config)."""
        self.parts.append(f"<pre>{html.escape(text)}</pre>")

    def render(self) -> str:
        """Return the whole page."""
        title = html.escape(self.title)
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{_STYLE}</style></head><body>\n<h1>{title}</h1>\n"
            + "\n".join(self.parts)
            + f'\n<p class="note">recframe {html.escape(__version__)}</p>\n</body></html>\n'
        )


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.replace("@", "_at_"))
