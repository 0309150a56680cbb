"""The parts of a report page and their rendering to one self-contained HTML string."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field

import pandas as pd

from seqvae.plots.style import close_figure

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; color: #222;
       background: #fafafa; line-height: 1.45; }
header { background: #0b3d5c; color: white; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header p { margin: 0; opacity: 0.85; font-size: 13px; }
nav { padding: 8px 32px; background: #e8eef2; font-size: 13px; }
nav a { margin-right: 14px; color: #0b3d5c; text-decoration: none; }
main { padding: 8px 32px 40px 32px; max-width: 1200px; }
section { background: white; border: 1px solid #dde3e8; border-radius: 6px; padding: 12px 20px;
          margin: 16px 0; }
h2 { font-size: 18px; margin: 6px 0 8px 0; color: #0b3d5c; }
h3 { font-size: 15px; margin: 14px 0 6px 0; }
p.intro { margin: 4px 0 10px 0; color: #444; font-size: 14px; }
figure { margin: 10px 0 16px 0; }
figure img { max-width: 100%; max-height: 1400px; width: auto; height: auto; border: 1px solid #eee; }
figcaption { font-size: 13px; color: #555; max-width: 900px; }
table.data { border-collapse: collapse; font-size: 12.5px; margin: 6px 0 12px 0; }
table.data th, table.data td { border: 1px solid #d5dbe0; padding: 3px 8px; text-align: right; }
table.data th { background: #eef2f5; }
table.data td:first-child, table.data th:first-child { text-align: left; }
pre { background: #f3f5f7; padding: 10px; font-size: 12px; overflow-x: auto; border-radius: 4px; }
.note { font-size: 13px; color: #666; }
details summary { cursor: pointer; color: #0b3d5c; font-size: 13.5px; margin: 6px 0; }
"""


@dataclass
class Figure:
    """An embedded figure: PNG bytes with a caption saying what it shows and how to read it."""

    png: bytes
    caption: str
    alt: str = "figure"

    @classmethod
    def from_matplotlib(cls, fig, caption: str, alt: str = "figure", dpi: int = 110) -> Figure:

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        close_figure(fig)
        return cls(buffer.getvalue(), caption, alt)

    def render(self) -> str:
        data = base64.b64encode(self.png).decode("ascii")
        return (
            f'<figure><img alt="{html.escape(self.alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(self.caption)}</figcaption></figure>"
        )


@dataclass
class Table:
    frame: pd.DataFrame
    caption: str = ""
    float_format: str = "{:.4g}"

    def render(self) -> str:
        table = self.frame.to_html(
            index=False, classes="data", border=0, float_format=lambda v: self.float_format.format(v)
        )
        caption = f'<p class="note">{html.escape(self.caption)}</p>' if self.caption else ""
        return caption + table


@dataclass
class Text:
    """A paragraph, or preformatted text; ``summary`` folds it under a one-line toggle."""

    text: str
    preformatted: bool = False
    summary: str | None = None

    def render(self) -> str:
        body = (
            f"<pre>{html.escape(self.text)}</pre>"
            if self.preformatted
            else f"<p>{html.escape(self.text)}</p>"
        )
        if self.summary is None:
            return body
        return f"<details><summary>{html.escape(self.summary)}</summary>{body}</details>"


@dataclass
class Section:
    """One titled part of the report; ``intro`` says what the section is about."""

    key: str
    title: str
    intro: str = ""
    blocks: list[Figure | Table | Text] = field(default_factory=list)

    def render(self) -> str:
        body = "".join(block.render() for block in self.blocks)
        intro = f'<p class="intro">{html.escape(self.intro)}</p>' if self.intro else ""
        return f'<section id="{self.key}"><h2>{html.escape(self.title)}</h2>{intro}{body}</section>'


def render_page(title: str, subtitle: str, sections: list[Section]) -> str:
    """The whole page: inline CSS, a table of contents, the sections. No external resources."""
    nav = "".join(f'<a href="#{s.key}">{html.escape(s.title)}</a>' for s in sections)
    body = "".join(s.render() for s in sections)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main></body></html>"
    )
