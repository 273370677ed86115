"""Render `report.html`: one self-contained page per evaluation (inline CSS, pictures as data: URIs, no
external resources): training curves, then per target the headline metrics, per-label F1, precision-recall
and threshold curves, and label co-confusions (multi-label) or the confusion matrix (single-label)."""
from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field

from trainer import metric_names

HEADLINE = metric_names.HTML_HEADLINE


@dataclass
class Picture:
    title: str
    png: bytes
    caption: str = ""
    wide: bool = False                     # a row of its own (big heatmaps)


@dataclass
class TargetPage:
    name: str
    problem: str
    columns: list[tuple[str, dict]]        # (column header, metrics) for the headline table
    pictures: list[Picture] = field(default_factory=list)
    rule: str = ""                         # the decision rule, in words
    notes: list[str] = field(default_factory=list)
    tuning: list[str] = field(default_factory=list)   # report.md's "Tuned on the training split" lines


@dataclass
class ReportPage:
    run_name: str
    model_type: str
    dataset: str
    split: str
    counts: dict[str, int]                 # split -> documents
    targets: list[TargetPage]
    training: Picture | None = None
    training_note: str = ""


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
header { background: #24292f; color: #fff; padding: 1rem 2rem; }
header h1 { margin: 0 0 .3rem 0; font-size: 1.4rem; } header p { margin: 0; color: #d0d7de; font-size: .9rem; }
nav { padding: .5rem 2rem; background: #fff; border-bottom: 1px solid #d0d7de; font-size: .9rem; }
nav a { margin-right: 1rem; color: #0969da; text-decoration: none; }
main { padding: 1rem 2rem 3rem; max-width: 72rem; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 1rem 1.5rem; margin: 1rem 0; }
h2 { font-size: 1.2rem; margin-top: .2rem; } h3 { font-size: 1rem; margin-bottom: .3rem; }
table { border-collapse: collapse; font-size: .9rem; margin: .5rem 0; }
th, td { border: 1px solid #d0d7de; padding: .25rem .7rem; text-align: right; }
th { background: #f6f8fa; } td:first-child, th:first-child { text-align: left; }
figure { margin: .8rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption, .note { color: #57606a; font-size: .85rem; }
.grid { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; } .grid figure { flex: 1 1 26rem; }
.grid figure.wide { flex-basis: 100%; }
"""


def render_html(page: ReportPage) -> str:
    esc = html.escape
    counts = ", ".join(f"{s} {n:,}" for s, n in page.counts.items())
    nav = "".join(f'<a href="#target-{esc(t.name)}">{esc(t.name)}</a>' for t in page.targets)
    parts = [f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(page.run_name)}: evaluation</title><style>{CSS}</style></head><body>
<header><h1>Evaluation: {esc(page.run_name)}</h1>
<p>model {esc(page.model_type)} &middot; dataset <code>{esc(page.dataset)}</code> &middot; evaluated split
<b>{esc(page.split)}</b> &middot; documents: {esc(counts)}</p></header>
<nav><a href="#training">training</a>{nav}</nav><main>"""]
    parts.append('<section id="training"><h2>Training</h2>')
    if page.training is not None:
        parts.append(_figure(page.training))
    if page.training_note:
        parts.append(f'<p class="note">{esc(page.training_note)}</p>')
    parts.append("</section>")
    for target in page.targets:
        parts.append(_target(target))
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def _target(t) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(name)}</th>" for name, _ in t.columns)
    rows = "".join(f"<tr><td>{esc(key.replace('_', '-'))}</td>"
                   + "".join(f"<td>{_fmt(m.get(key))}</td>" for _, m in t.columns) + "</tr>"
                   for key in HEADLINE if any(key in m for _, m in t.columns))
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in t.notes)
    rule = f'<p class="note">Decision rule: {esc(t.rule)}.</p>' if t.rule else ""
    pictures = "".join(_figure(p) for p in t.pictures)
    return (f'<section id="target-{esc(t.name)}"><h2>Target {esc(t.name)} '
            f'<small>({esc(t.problem.replace("_", "-"))})</small></h2>'
            f"<table><thead><tr><th>metric</th>{head}</tr></thead><tbody>{rows}</tbody></table>{rule}{notes}"
            f"{_tuning(t.tuning)}"
            f'<div class="grid">{pictures}</div></section>')


def _tuning(lines: list[str]) -> str:
    """report.md's "Tuned on the training split" lines as a block: the first is a paragraph, "- " lines
    items, "  - " lines items under the one before; `code` stays code."""
    if not lines:
        return ""
    def inline(text: str) -> str:
        return re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(text))
    items: list[tuple[str, list[str]]] = []
    for line in lines[1:]:
        if line.startswith("  - ") and items:
            items[-1][1].append(line[4:])
        else:
            items.append((line.removeprefix("- "), []))
    body = "".join(f"<li>{inline(text)}" + (f"<ul>{''.join(f'<li>{inline(s)}</li>' for s in sub)}</ul>" if sub else "")
                   + "</li>" for text, sub in items)
    return (f'<h3>Tuned on the training split</h3><p class="note">{inline(lines[0])}</p>'
            + (f"<ul>{body}</ul>" if body else ""))


def _figure(p: Picture) -> str:
    data = base64.b64encode(p.png).decode("ascii")
    caption = f"<figcaption>{html.escape(p.caption)}</figcaption>" if p.caption else ""
    wide = ' class="wide"' if p.wide else ""
    return (f'<figure{wide}><h3>{html.escape(p.title)}</h3><img alt="{html.escape(p.title)}" '
            f'src="data:image/png;base64,{data}">{caption}</figure>')


def _fmt(value) -> str:
    return "-" if not isinstance(value, (int, float)) else f"{value:.4f}"
