"""The template builder's model: a .j2 template as form fields, and back. No Streamlit here.

A marketer edits fields (name, subject, body, one form per slot); `write_form` writes the same
.j2 format the raw editor and `python -m review save-template` read: YAML front matter in a fixed
key order, then the Jinja body. A value the source quoted stays quoted the same way, so a template
read and written without an edit comes back byte for byte. A slot's mode and base are fields; a
`choose` slot's alternatives block is kept as written (edit it in the raw editor). Front matter the builder does not write
(other keys, block lists of inputs, folded text) raises `FormUnsupported`: such a template stays
with the raw editor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from review.guidelines.rule import word_count
from review.yamlsafe import loads

TOP_KEYS = ("name", "channel", "description", "subject", "slots")
SLOT_KEYS = ("mode", "base", "instruction", "inputs", "must_name", "max_words", "examples", "alternatives", "fallback")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class FormUnsupported(ValueError):
    """The template uses front matter the builder does not write; edit it in the raw editor."""


@dataclass
class SlotForm:
    name: str
    instruction: str = ""
    inputs: list[str] = field(default_factory=list)
    max_words: int = 20
    examples: list[str] = field(default_factory=list)
    fallback: str = ""
    mode: str | None = None  # None: not written (write, the default); else write | adapt | choose
    base: str | None = None  # adapt: the approved sentence
    # choose: the `alternatives:` block's lines as the source wrote them (kept, not edited here)
    alternatives_lines: list[str] = field(default_factory=list)
    must_name: list[str] | None = None  # None: not written; else the inputs the text must name


@dataclass
class TemplateForm:
    name: str = ""
    channel: str = "email"
    description: str | None = None
    subject: str | None = None
    slots: list[SlotForm] = field(default_factory=list)
    body: str = ""
    # How the source wrote each scalar that was quoted: path -> '"' or "'"; path is
    # ("name",), ("slots", slot, "fallback") or ("slots", slot, "examples", i).
    quoted: dict[tuple[Any, ...], str] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # top-level keys in the source's order


# ------------------------------------------------------------------ reading


def _split(source: str) -> tuple[str, str]:
    text = source.replace("\r\n", "\n")
    if not text.startswith("---\n"):
        raise FormUnsupported("the template does not start with '---' front matter")
    end = text.find("\n---\n", 3)
    if end < 0:
        raise FormUnsupported("the front matter has no closing '---' line")
    return text[4 : end + 1], text[end + 5 :]


def _style(raw: str) -> str | None:
    raw = raw.strip()
    return raw[0] if raw[:1] in ('"', "'") else None


def parse_form(source: str) -> TemplateForm:
    """The form for a template's source; FormUnsupported when the builder cannot write it back."""
    front, body = _split(source)
    data = loads(front).value if front.strip() else {}
    if not isinstance(data, dict):
        raise FormUnsupported("the front matter is not a mapping")
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise FormUnsupported(f"the builder does not write the front matter key(s) {', '.join(map(str, unknown))}")
    form = TemplateForm(body=body, order=[str(k) for k in data])
    slot: str | None = None
    in_examples = in_alternatives = False
    examples_seen: dict[str, int] = {}
    alternatives: dict[str, list[str]] = {}
    for line in front.split("\n")[:-1]:
        if in_alternatives and slot is not None and re.match(r" {6}", line):
            alternatives.setdefault(slot, []).append(line)
            continue
        in_alternatives = False
        if m := re.fullmatch(r"([a-z_]+): ?(.*)", line):
            key, raw = m.groups()
            slot, in_examples = None, False
            if key == "slots" and raw == "":
                continue
            if key not in TOP_KEYS or key == "slots" or not raw:
                raise FormUnsupported(f"front matter line not written by the builder: {line!r}")
            if s := _style(raw):
                form.quoted[(key,)] = s
        elif m := re.fullmatch(r" {2}([A-Za-z0-9_]+):", line):
            slot, in_examples = m.group(1), False
        elif (m := re.fullmatch(r" {4}([a-z_]+): ?(.*)", line)) and slot is not None:
            key, raw = m.groups()
            in_examples = key == "examples" and raw == ""
            in_alternatives = key == "alternatives" and raw == ""
            listed = key in ("inputs", "must_name")
            if key not in SLOT_KEYS or (not raw and key not in ("examples", "alternatives")) or (listed and not raw.startswith("[")):
                raise FormUnsupported(f"slot line not written by the builder: {line!r}")
            if not listed and (s := _style(raw)):
                form.quoted[("slots", slot, key)] = s
        elif (m := re.fullmatch(r" {6}- (.*)", line)) and in_examples and slot is not None:
            index = examples_seen.get(slot, 0)
            examples_seen[slot] = index + 1
            if s := _style(m.group(1)):
                form.quoted[("slots", slot, "examples", index)] = s
        else:
            raise FormUnsupported(f"front matter line not written by the builder: {line!r}")
    form.name = str(data.get("name", ""))
    form.channel = str(data.get("channel", "email"))
    form.description = None if data.get("description") is None else str(data["description"])
    form.subject = None if data.get("subject") is None else str(data["subject"])
    for name, s in (data.get("slots") or {}).items():
        if not isinstance(s, dict):
            raise FormUnsupported(f"slot {name!r} is not a mapping")
        form.slots.append(
            SlotForm(
                name=str(name),
                instruction=str(s.get("instruction", "")),
                inputs=[str(i) for i in s.get("inputs") or []],
                max_words=int(s.get("max_words", 20)),
                examples=[str(e) for e in s.get("examples") or []],
                fallback=str(s.get("fallback", "")),
                mode=None if s.get("mode") is None else str(s["mode"]),
                base=None if s.get("base") is None else str(s["base"]),
                alternatives_lines=alternatives.get(str(name), []),
                must_name=None if s.get("must_name") is None else [str(i) for i in s["must_name"]],
            )
        )
    if write_form(form) != source.replace("\r\n", "\n"):
        raise FormUnsupported("the builder would lay this template out differently; edit it in the raw editor")
    return form


# ------------------------------------------------------------------ writing


def _plain_ok(value: str, prefix: str) -> bool:
    """Would YAML read `value` back as this very string, written plain after `prefix`?"""
    if not value or value != value.strip() or "\n" in value or value[0] in "-?:,[]{}#&*!|>'\"%@`":
        return False
    try:
        got = yaml.safe_load(f"{prefix}{value}")
    except yaml.YAMLError:
        return False
    return got == ({"k": value} if prefix == "k: " else [value])


def _scalar(value: str, style: str | None, prefix: str = "k: ") -> str:
    if style == "'" and "\n" not in value:
        return "'" + value.replace("'", "''") + "'"
    if style is None and _plain_ok(value, prefix):
        return value
    out = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{out}"'


def write_form(form: TemplateForm) -> str:
    """The .j2 source for the form: front matter in the builder's layout, then the body as typed."""
    lines = ["---"]
    keys = [k for k in form.order if k in TOP_KEYS] + [k for k in TOP_KEYS if k not in form.order]
    for key in keys:
        if key == "slots":
            if not form.slots and "slots" not in form.order:
                continue
            lines.append("slots:")
            for s in form.slots:
                lines.append(f"  {s.name}:")
                if s.mode is not None:
                    lines.append(f"    mode: {_scalar(s.mode, form.quoted.get(('slots', s.name, 'mode')))}")
                if s.base is not None:
                    lines.append(f"    base: {_scalar(s.base, form.quoted.get(('slots', s.name, 'base')))}")
                if s.instruction or s.mode in (None, "write"):
                    lines.append(f"    instruction: {_scalar(s.instruction, form.quoted.get(('slots', s.name, 'instruction')))}")
                lines.append(f"    inputs: [{', '.join(s.inputs)}]")
                if s.must_name:
                    lines.append(f"    must_name: [{', '.join(s.must_name)}]")
                lines.append(f"    max_words: {int(s.max_words)}")
                if s.examples:
                    lines.append("    examples:")
                    for i, e in enumerate(s.examples):
                        lines.append(f"      - {_scalar(e, form.quoted.get(('slots', s.name, 'examples', i)), '- ')}")
                if s.alternatives_lines:
                    lines.append("    alternatives:")
                    lines.extend(s.alternatives_lines)
                if s.fallback or s.mode != "adapt":  # an adapt slot without one falls back to its base
                    lines.append(f"    fallback: {_scalar(s.fallback, form.quoted.get(('slots', s.name, 'fallback')))}")
            continue
        value = getattr(form, key)
        if value is None:
            continue
        lines.append(f"{key}: {_scalar(str(value), form.quoted.get((key,)))}")
    lines.append("---")
    return "\n".join(lines) + "\n" + form.body


# ------------------------------------------------------------------ editing helpers


def slot_tag(name: str) -> str:
    return "{{ slots." + name + " }}"


def field_tag(name: str) -> str:
    return "{{ recipient." + name + " }}"


def valid_slot_name(name: str) -> bool:
    return bool(_NAME.match(name))


@dataclass(frozen=True)
class Budget:
    """The share of a message's words the slots may fill, at their word limits (the worst case)."""

    fixed_words: int
    slot_words: int
    limit: float | None

    @property
    def share(self) -> float:
        total = self.fixed_words + self.slot_words
        return self.slot_words / total if total else 0.0

    @property
    def ok(self) -> bool:
        return self.limit is None or self.share <= self.limit + 1e-9

    def most_for(self, current: int) -> int | None:
        """The largest word limit a slot now at `current` may take, the others unchanged."""
        if self.limit is None:
            return None
        if self.limit >= 1:
            return 10_000
        allowed = int(self.limit * self.fixed_words / (1 - self.limit) + 1e-9)
        return max(0, allowed - (self.slot_words - current))


def budget(form: TemplateForm, max_share: float | None) -> Budget:
    """Words of fixed copy (a merge field counts as one word) against the slots' word limits, each
    counted as often as the body prints it."""
    body = form.body
    slot_words = 0
    for s in form.slots:
        uses = len(re.findall(r"\{\{\s*slots\." + re.escape(s.name) + r"\s*\}\}", body))
        slot_words += uses * max(0, int(s.max_words))
    fixed = re.sub(r"\{\{\s*slots\.[A-Za-z0-9_]+\s*\}\}", " ", body)
    fixed = re.sub(r"\{\{.*?\}\}", " x ", fixed)
    fixed = re.sub(r"\{%.*?%\}", " ", fixed)
    return Budget(word_count(fixed), slot_words, max_share)
