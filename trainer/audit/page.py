"""Render the audit's report.html: one self-contained page (inline CSS, the evaluation report's style, no
external resources): per target the labels with their documents and suspects, the top suspects with the
first lines of their text, and the conflicting duplicate groups."""
from __future__ import annotations

import html
from collections import Counter

from trainer.evaluation.html_report import CSS

TEXT_LINES = 3


def render_page(result, splits: dict, spaces: list, top: int) -> str:
    esc = html.escape
    s = result.summary
    texts = {str(i): t for ds in splits.values() for i, t in zip(ds["id"], ds["text"])}
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Label audit</title>"
             f"<style>{CSS}</style></head><body><header><h1>Label audit</h1><p>{esc(s['dataset'])}: "
             f"{', '.join(f'{k} {v}' for k, v in s['audited'].items())} documents audited (test never read); "
             f"{s['folds']} folds, seed {s['seed']}, model {esc(s['model'].get('type', ''))}</p></header><main>"]
    for space in spaces:
        flagged = [r for r in result.issues if r["target"] == space.target]
        given, suspects = Counter(), Counter()
        for r in result.ranking:
            if r["target"] == space.target:
                given.update(r["given"])
        for r in flagged:
            suspects.update(r["given"])
        rows = "".join(f"<tr><td>{esc(label)}</td><td>{given[label]}</td><td>{suspects[label]}</td></tr>"
                       for label in sorted(given, key=lambda lab: (-suspects[lab], -given[lab], lab)))
        parts.append(f"<section><h2>{esc(space.target)}: {len(flagged)} suspected label errors</h2>"
                     f"<table><tr><th>label</th><th>documents</th><th>suspects</th></tr>{rows}</table></section>")
        items = []
        for r in flagged[:top]:
            lines = [line for line in texts.get(r["id"], "").splitlines() if line.strip()][:TEXT_LINES]
            items.append(f"<tr><td>{esc(r['id'])}<br><small>{esc(r['split'])}</small></td><td>{r['score']:.3f}</td>"
                         f"<td>{esc(', '.join(r['given']))}</td><td>{esc(', '.join(r['suggested']))}</td>"
                         f"<td style='text-align:left'>{'<br>'.join(esc(line[:200]) for line in lines)}</td></tr>")
        parts.append(f"<section><h2>{esc(space.target)}: top {min(top, len(flagged))} suspects</h2><table><tr>"
                     "<th>id</th><th>score</th><th>given</th><th>suggested</th><th>text</th></tr>"
                     + "".join(items) + "</table></section>")
    groups = "".join(
        f"<tr><td>{esc(c['kind'])}</td><td>{esc(c['target'])}</td><td style='text-align:left'>"
        + "<br>".join(f"{esc(i)}: {esc(', '.join(v))}" for i, v in c["labels"].items()) + "</td></tr>"
        for c in result.conflicts)
    parts.append(f"<section><h2>Conflicting duplicates: {len(result.conflicts)}</h2><table><tr><th>kind</th>"
                 f"<th>target</th><th>documents and their labels</th></tr>{groups}</table></section></main></body></html>")
    return "\n".join(parts)
