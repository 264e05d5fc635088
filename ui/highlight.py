"""Message HTML with slot text and findings marked. Pure functions, no Streamlit.

Every piece of text is escaped before any tag is added: slot text comes from a model and
recipient text from a CSV, so both are hostile input. Markdown syntax characters are turned
into entities too, so st.markdown cannot reinterpret them.

Both escapes happen in one pass, character by character: an entity written by the HTML escape
must never be fed to the Markdown one (its '#' would be escaped again and the reviewer would
read "&#x27;" where the export has an apostrophe).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

LEVEL_STYLE = {
    "error": "background:#fde2e1;border-bottom:2px solid #c62828;",
    "warning": "background:#fff1cc;border-bottom:2px solid #b26a00;",
    "suggestion": "border-bottom:2px dotted #1565c0;",
}
LEVEL_ICON = {"error": ":material/error:", "warning": ":material/warning:", "suggestion": ":material/lightbulb:"}
SLOT_STYLE = "background:#e3f2fd;border-radius:3px;padding:0 1px;"
# Characters HTML or Markdown (or Streamlit's :directives[] and :emoji:) give a meaning to,
# each mapped straight to an entity the browser turns back into that very character.
_HTML_SPECIAL = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
_MD_SPECIAL = "\\`*_{}[]()#+-.!|~$:"
_ENTITIES = str.maketrans({**{c: f"&#{ord(c)};" for c in _MD_SPECIAL}, **_HTML_SPECIAL})


def esc(text: str) -> str:
    """Text as inert HTML that renders exactly as `text` (markup and Markdown stay literal);
    line breaks become <br> so a blank line cannot end an HTML block."""
    out = text.replace("\r\n", "\n").replace("\r", "\n").translate(_ENTITIES)
    return out.replace("\n", "<br>")


@dataclass
class Mark:
    start: int
    end: int
    kind: str  # "slot" | "finding"
    label: str = ""
    level: str = ""
    number: int = 0


@dataclass
class Layout:
    """Where each slot's text sits in the rendered body."""

    body: str
    slot_ranges: list[tuple[str, int, int]] = field(default_factory=list)


def layout(fixed_segments: Sequence[str], slot_sequence: Sequence[str], slots: dict[str, str]) -> Layout:
    parts: list[str] = []
    ranges: list[tuple[str, int, int]] = []
    pos = 0
    for i, seg in enumerate(fixed_segments):
        parts.append(seg)
        pos += len(seg)
        if i < len(slot_sequence):
            name = slot_sequence[i]
            text = slots.get(name, "")
            ranges.append((name, pos, pos + len(text)))
            parts.append(text)
            pos += len(text)
    return Layout("".join(parts), ranges)


def number_findings(findings: Sequence[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Findings in display order (errors first), numbered from 1."""
    order = {"error": 0, "warning": 1, "suggestion": 2}
    ranked = sorted(findings, key=lambda f: (order.get(f.get("level", ""), 3), f.get("scope", ""), f.get("slot") or "", (f.get("span") or [0])[0]))
    return list(enumerate(ranked, start=1))


def _finding_marks(numbered: Sequence[tuple[int, dict[str, Any]]], lay: Layout, scope_text: str) -> list[Mark]:
    marks: list[Mark] = []
    for n, f in numbered:
        span = f.get("span")
        if not span:
            continue
        start, end = int(span[0]), int(span[1])
        scope = f.get("scope")
        level = f.get("level", "suggestion")
        label = f"{n}. {f.get('message', '')}" + (f" — try: {f['suggestion']}" if f.get("suggestion") else "")
        if scope == "slot" and scope_text == "body":
            for name, s0, s1 in lay.slot_ranges:
                if name == f.get("slot") and 0 <= start <= end <= s1 - s0:
                    marks.append(Mark(s0 + start, s0 + end, "finding", label, level, n))
        elif scope in ("message", "fixed") and scope_text == "body":
            if 0 <= start <= end <= len(lay.body):
                marks.append(Mark(start, end, "finding", label, level, n))
        elif scope == "subject" and scope_text == "subject":
            marks.append(Mark(start, end, "finding", label, level, n))
    return marks


def _paint(text: str, marks: Sequence[Mark]) -> str:
    """Split the text at every mark boundary; wrap each piece in the marks covering it."""
    cuts = {0, len(text)}
    for m in marks:
        cuts.update((max(0, min(m.start, len(text))), max(0, min(m.end, len(text)))))
    points = sorted(cuts)
    out: list[str] = []
    closing_numbers: dict[int, int] = {}
    for m in marks:
        if m.kind == "finding":
            closing_numbers[m.number] = min(m.end, len(text))
    for a, b in zip(points, points[1:], strict=False):
        piece = esc(text[a:b])
        covering = [m for m in marks if m.start <= a and b <= m.end and m.start < m.end]
        for m in sorted(covering, key=lambda m: (m.kind != "slot", m.start)):
            if m.kind == "slot":
                piece = f'<mark style="{SLOT_STYLE}" title="slot: {html.escape(m.label, quote=True)}">{piece}</mark>'
            else:
                piece = f'<span style="{LEVEL_STYLE.get(m.level, "")}" title="{html.escape(m.label, quote=True)}">{piece}</span>'
        out.append(piece)
        for m in marks:
            if m.kind == "finding" and m.end == b and m.start < m.end:
                out.append(f'<sup style="color:#555;font-size:0.7em">[{m.number}]</sup>')
    return "".join(out)


def message_html(subject: str, fixed_segments: Sequence[str], slot_sequence: Sequence[str], slots: dict[str, str], findings: Sequence[dict[str, Any]]) -> str:
    """The whole message as one HTML block: subject line, then the body."""
    lay = layout(fixed_segments, slot_sequence, slots)
    numbered = number_findings(findings)
    body_marks = [Mark(s0, s1, "slot", name) for name, s0, s1 in lay.slot_ranges] + _finding_marks(numbered, lay, "body")
    subject_marks = _finding_marks(numbered, lay, "subject")
    subj = f'<div style="font-weight:600;margin-bottom:0.6em">Subject: {_paint(subject, subject_marks)}</div>' if subject else ""
    body = _paint(lay.body, body_marks)
    return (
        '<div class="cs-message" style="border:1px solid #d0d7de;border-radius:6px;padding:1em 1.2em;'
        'background:#ffffff;color:#1f2328;line-height:1.55;font-size:0.95rem;white-space:pre-wrap">' + subj + f"<div>{body}</div></div>"
    )
