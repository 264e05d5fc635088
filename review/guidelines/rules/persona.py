"""persona: the writer showing through ("As an AI", "I'm here for you", "I think"), a single
person speaking where the brand speaks as "we", the reader talked about instead of to ("They've
been with us for 1 year"), or the prompt's own words ("Click here to view complete JSON data")."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..registry import register
from ..rule import BrandEnv, Opt, ScopeText, TextRule
from ..terms import compile_terms

PHRASES = [
    "as an AI",
    "as a language model",
    "as an assistant",
    "I'm here for you",
    "I am here for you",
    "here to help you",
    "I think",
    "I believe",
    "I hope",
    "I feel",
    "in my opinion",
    "I'm sorry",
    "I am sorry",
    "I cannot",
    "I can't",
    "sure, here",
    "here is a sentence",
    "here's a sentence",
]
# The reader talked about, not to: the model describing its task ("the customer has received
# their claim", a sentence that starts "They've been with us"). A slot's fill speaks to the reader
# as "you"; "they" inside a sentence is usually about things ("keep photos; they make it easier").
_THIRD_PERSON = re.compile(
    r"(?:^|(?<=[.!?]\s))(?:They|They['\u2019](?:re|ve|ll|d)|Their)(?![\w'\u2019])"  # a sentence about "them"
    r"|(?<![\w'\u2019])(?:the customer|our customers?|customers['\u2019]?|customer['\u2019]s)(?![\w'\u2019])",
    re.IGNORECASE,
)
# The prompt's machinery showing through: it asks for "one sentence" about "customer data" and
# the model writes about sentences, JSON and data. (Brackets are left alone: a person's edit may
# hold them, and an error here would block it; the one bracketed fill on the tune half, "[pet
# policy]", was the only catch they added.)
_PROMPT_WORDS = re.compile(r"(?<![\w])(?:json|sentences?|premise|instructions?|customer data|the data|placeholder)(?![\w])", re.IGNORECASE)
_READER_TALKED_ABOUT = "'{}' talks about the reader instead of to them; a fill speaks to the reader as 'you'"
_PROMPT = "'{}' is the prompt showing through, not words for the reader"
_SINGULAR = re.compile(r"(?<![\w'\u2019])(?:I|I['\u2019](?:m|ve|d|ll)|[Mm]e|[Mm]y|[Mm]ine|[Mm]yself)(?![\w'\u2019])")


@register("persona")
class Persona(TextRule):
    summary = "The writer's own voice in a fill: an assistant's phrases, or 'I'/'me'/'my' where the brand speaks as 'we'."
    options = {
        "phrases": Opt("terms", doc="phrases that give the writer away (default: a built-in list: 'as an AI', 'I'm here for you', 'I think', ...)"),
        "extra_phrases": Opt("terms", default=[], doc="phrases added to the list"),
        "first_person": Opt("bool", default=True, doc="also report I, me, my, mine, myself (the brand speaks as 'we')"),
        "third_person": Opt("bool", default=True, doc="also report the reader talked about instead of to: they, them, their, the customer"),
        "prompt_words": Opt("bool", default=True, doc="also report the prompt's own words: JSON, sentence, instruction, customer data"),
    }
    default_level = "error"
    default_scope = "slot"
    default_message = "%s"

    def setup(self, opts: dict[str, Any], env: BrandEnv) -> None:
        self.phrases = compile_terms(list(opts.get("phrases") or PHRASES) + list(opts["extra_phrases"]), ignorecase=True, path=("phrases",))
        self.first_person = bool(opts["first_person"])
        # The further ways the writer shows that are turned on: (pattern, why), one finding each.
        slips = ((opts["third_person"], _THIRD_PERSON, _READER_TALKED_ABOUT), (opts["prompt_words"], _PROMPT_WORDS, _PROMPT))
        self.slips = [(pattern, why) for on, pattern, why in slips if on]

    def check_text(self, st: ScopeText) -> Iterator[Finding]:
        taken: list[tuple[int, int]] = []
        for _, start, end in self.phrases.finditer(st.norm):
            match = st.original[start:end]
            taken.append((start, end))
            yield self.finding(st, (start, end), match, f"'{match}' is the writer speaking, not the brand")
        if self.first_person:
            for m in _SINGULAR.finditer(st.original):
                if any(s <= m.start() < e for s, e in taken):
                    continue
                why = f"'{m.group()}' speaks as one person; the brand speaks as 'we'"
                yield self.finding(st, (m.start(), m.end()), m.group(), why)
                break  # one per text is enough to send it back
        for pattern, why in self.slips:
            found = pattern.search(st.original)
            if found is not None:
                yield self.finding(st, (found.start(), found.end()), found.group(), why.format(found.group()))
