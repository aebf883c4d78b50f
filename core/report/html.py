"""report.html: one static page, inline CSS, figures linked by relative path."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from .summary import RunSummary, _num

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.7em; text-align: left; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.88em; color: #555; } .muted { color: #777; font-size: 0.88em; }
"""


@dataclass
class FigureRef:
    """A figure of the report: section title, path relative to the HTML file, caption."""

    title: str
    src: str
    caption: str = ""


def _table(rows: Sequence[Sequence[str]], header: Sequence[str] | None = None,
           numeric: Sequence[bool] = ()) -> str:
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cls = ' class="num"' if i < len(numeric) and numeric[i] else ""
            cells.append(f"<td{cls}>{html.escape(str(cell))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def render_html(
    summary: RunSummary,
    figures: Sequence[FigureRef],
    details: dict[str, str] | None = None,
    warnings: Sequence[str] = (),
) -> str:
    """The report page. Summary values are the strings of ``summary.rows()`` verbatim."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>SkelSplat report: {html.escape(summary.take)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>SkelSplat run report: {html.escape(summary.take)}</h1>",
        "<h2>Summary</h2>",
        _table(summary.rows()),
        "<h2>Reprojection error per camera</h2>",
        _table(summary.camera_rows(), header=("camera", "mean reprojection error"),
               numeric=(False, True)),
    ]
    bone_rows = [(name, _num(summary.bone_mean_mm_per_bone.get(name, float("nan")), 1),
                  _num(std, 1)) for name, std in summary.bone_std_mm_per_bone.items()]
    sections: dict[str, list[FigureRef]] = {}
    for fig in figures:
        sections.setdefault(fig.title, []).append(fig)
    for title, refs in sections.items():
        parts.append(f"<h2>{html.escape(title)}</h2>")
        for ref in refs:
            parts.append(f'<figure><a href="{html.escape(ref.src)}">'
                         f'<img src="{html.escape(ref.src)}" alt="{html.escape(ref.caption)}">'
                         f"</a><figcaption>{html.escape(ref.caption)}</figcaption></figure>")
    if summary.residual_rows():
        parts.append("<h2>Baked armature vs fit (per joint)</h2>")
        parts.append(_table(summary.residual_rows(),
                            header=("joint", "residual to the fit (mean / p95)"),
                            numeric=(False, True)))
    parts.append("<h2>Bone lengths</h2>")
    parts.append(_table(bone_rows, header=("bone", "mean length (mm)", "std (mm)"),
                        numeric=(False, True, True)))
    if summary.files:
        parts.append("<h2>Files written</h2><ul>")
        parts += [f'<li><a href="{html.escape(f)}">{html.escape(f)}</a></li>'
                  for f in summary.files]
        parts.append("</ul>")
    if warnings:
        parts.append("<h2>Warnings</h2><ul>")
        parts += [f"<li>{html.escape(w)}</li>" for w in warnings]
        parts.append("</ul>")
    if details:
        parts.append("<h2>Inputs and settings</h2>")
        parts.append(_table(list(details.items())))
    parts.append('<p class="muted">Reprojection error: distance between each 2D detection and '
                 "the projection (with lens distortion) of the fitted joint of the same joint "
                 f"set ({html.escape(summary.joint_set)}). Bone lengths are measured on the "
                 "canonical skeleton written to joints.npz.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
