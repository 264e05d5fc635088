"""Turn raw model text into one clean paragraph that fits the slot, or "" if nothing usable."""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"<\|[^|<>]*\|>")
_STOP_MARKERS = ("<|im_end|>", "<|im_start|>", "<|endoftext|>", "</s>")
_ROLE_LABEL = re.compile(r"^\s*(?:assistant|user|system|ai|bot|answer|response|output|sentence|reply|customer|message|tip|task)\s*[:\-]\s*", re.I)
_ROLE_LINE = re.compile(r"^\s*(?:assistant|user|system)\s*$", re.I)
# Chatty preambles: "Sure! Here is a sentence:", "Certainly.", "Here's one:" ... Only bare
# interjections are stripped, so real content such as "Great to have you with us." survives.
_INTERJECTION = re.compile(r"^(?:sure(?: thing)?|certainly|of course|okay|ok|absolutely)\s*[!.,:]+\s*", re.I)
_HERE_IS = re.compile(r"^(?:here(?:'s| is| are)|below is|this is)\b[^:\n]*:\s*", re.I)
_MARKDOWN = re.compile(r"(\*\*|__|`+|~~)")
_LIST_MARK = re.compile(r"^\s*(?:[-*•#>]+|\d+[.)])\s+")
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»"}
_CLAUSE_END = re.compile(r"\s*(?:[,;]|\s[-–—])(?=\s)")
_SENTENCE_END = re.compile(r"[.!?](?:[\"'”’)\]]*)(?=\s|$)")
# Words a clean cut should not end on ("... welcome you and." reads broken).
_DANGLING = {
    "a",
    "an",
    "the",
    "and",
    "or",
    "but",
    "to",
    "of",
    "for",
    "with",
    "in",
    "on",
    "at",
    "by",
    "from",
    "your",
    "our",
    "my",
    "their",
    "its",
    "that",
    "which",
    "who",
    "as",
    "so",
    "if",
    "is",
    "are",
    "be",
    "we",
    "you",
    "i",
}


def _strip_quotes(text: str) -> str:
    text = text.strip()
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] == _QUOTES[text[0]]:
        text = text[1:-1].strip()
    # A lone leading quote with no closing one is an artefact too.
    if text[:1] in _QUOTES and _QUOTES[text[:1]] not in text[1:]:
        text = text[1:].strip()
    if text[-1:] in _QUOTES.values() and not any(o in text[:-1] for o, c in _QUOTES.items() if c == text[-1]):
        text = text[:-1].strip()
    return text


def _is_filler_paragraph(p: str) -> bool:
    """Salutations ("Dear Anna,"), preamble lines ending in ':' and role labels are not content."""
    words = p.split()
    return not words or p.endswith(":") or _ROLE_LINE.match(p) is not None or (len(words) <= 4 and p.endswith(","))


def _clean_line(line: str) -> str:
    line = _LIST_MARK.sub("", line)
    line = _ROLE_LABEL.sub("", line)
    return line.strip()


def _cut(text: str, max_words: int) -> str:
    words = text.split()
    if len(words) <= max_words and _SENTENCE_END.search(text[-3:] if text else ""):
        return text
    # Last sentence boundary that lies within the word budget.
    budget_text = " ".join(words[:max_words])
    ends = [m.end() for m in _SENTENCE_END.finditer(budget_text)]
    if ends and len(budget_text[: ends[-1]].split()) >= 3:
        return budget_text[: ends[-1]].strip()
    # No sentence end: a clause end (comma, semicolon, dash) keeping at least half the budget
    # reads better than a cut mid-phrase ("... city of Cardiff, where we are here today as a").
    clauses = [m.start() for m in _CLAUSE_END.finditer(budget_text)]
    if clauses and len(budget_text[: clauses[-1]].split()) >= max(4, max_words // 2):
        return budget_text[: clauses[-1]].rstrip(",;:-–— ") + "."
    # No usable boundary: hard cut at the budget, drop dangling words and punctuation, end with a stop.
    kept = words[:max_words]
    while kept and (kept[-1].lower().strip(",;:-–—") in _DANGLING or not kept[-1].strip(",;:-–—")):
        kept.pop()
    if not kept:
        return ""
    out = " ".join(kept).rstrip(",;:-–— ")
    if not out.endswith((".", "!", "?")):
        out += "."
    return out


def _strip_preamble(text: str) -> str:
    for _ in range(2):  # "Sure! Here is one:" is an interjection followed by a lead-in
        text = _HERE_IS.sub("", _INTERJECTION.sub("", text, count=1), count=1).strip()
    return text


def clean_output(raw: str, max_words: int) -> str:
    """One paragraph, no chat artefacts or markdown, no surrounding quotes, within max_words.

    Cut at the last sentence boundary inside the budget; if there is none, cut at max_words
    and end cleanly. Returns "" when nothing usable is left.
    """
    if not raw or max_words < 1:
        return ""
    text = raw
    for marker in _STOP_MARKERS:  # everything after an end-of-turn marker is a new (hallucinated) turn
        text = text.split(marker, 1)[0]
    text = _MARKDOWN.sub("", _SPECIAL.sub(" ", text)).replace("\r", "")
    paragraphs: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        lines: list[str] = []
        for ln in (_strip_preamble(_clean_line(x)) for x in block.split("\n")):
            filler = not ln or _is_filler_paragraph(ln) or ln.startswith(("{", "["))
            if filler and lines:
                break  # "Customer data:" after the answer is the model echoing the prompt: stop here
            if not filler:
                lines.append(ln)
        if lines:
            paragraphs.append(" ".join(lines))
    chosen = ""
    for p in paragraphs:
        p = _strip_quotes(_strip_preamble(_strip_quotes(p)))
        if p and not _is_filler_paragraph(p) and any(ch.isalpha() for ch in p):
            chosen = re.sub(r"\s+", " ", p)
            break
    if not chosen:
        return ""
    out = _strip_quotes(_cut(chosen, max_words))
    # "Here is your tip: keep photos safe." leaves a lower-case start once the lead-in is gone.
    return out[:1].upper() + out[1:] if out[:1].islower() else out
