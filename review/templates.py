"""Templates: YAML front matter declaring slots, then a Jinja2 body of fixed copy.

A template file looks like::

    ---
    name: Renewal reminder
    channel: email
    subject: "Your policy renewal, {{ recipient.first_name }}"
    slots:
      opening:
        instruction: Write one warm sentence thanking the customer for their loyalty.
        inputs: [first_name, tenure_years]
        max_words: 25
        examples: ["Thank you for five years with us, Ana."]
        fallback: Thank you for being with us.
    ---
    Dear {{ recipient.first_name }},

    {{ slots.opening }}

    Fixed, brand-owned copy ...

Rendering uses Jinja2's sandbox with strict undefined, so a template can neither reach
Python internals nor silently print an empty field. Slot texts are passed as data, so
text a model produced is never evaluated as template code.

A template only does what a message needs, and anything else is refused when it is saved,
with its line (review.template_vetting). Rendering is bounded as well (review.template_render,
re-exported here): constant folding is off, string repetition and powers are capped in the
sandbox, and every render is capped in output size and time. Every failure is a TemplateError.

This module parses and validates: the front matter (slots and their declarations), the body
and subject (syntax, vetting, slots used vs declared) and, given a brand policy, the fields
and the number of slots the brand allows.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from . import textsafety, yamlsafe
from .brands import BrandPolicy
from .errors import TemplateError
from .guidelines.rule import word_count
from .slot_modes import Alternative, check_enum_values, mode_of, parse_mode
from .template_render import _ENV, Rendered, render
from .template_vetting import referenced, vet

__all__ = [  # render and Rendered live in template_render; importing them from here keeps working
    "CHANNELS",
    "MAX_TEMPLATE_CHARS",
    "SLOT_KEYS",
    "TOP_KEYS",
    "Rendered",
    "SlotSpec",
    "TemplateSpec",
    "canonical_json",
    "parse_template",
    "read_template_file",
    "render",
    "sha256_json",
]

SLOT_KEYS = {"instruction", "inputs", "max_words", "examples", "fallback", "mode", "base", "alternatives", "must_name"}
TOP_KEYS = {"name", "channel", "subject", "description", "slots"}
CHANNELS = ("email", "sms", "push", "letter")
MAX_TEMPLATE_CHARS = 100_000
_SLOT_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class SlotSpec:
    """One personalizable part of a template."""

    name: str
    instruction: str
    inputs: tuple[str, ...]
    max_words: int
    examples: tuple[str, ...]
    fallback: str
    mode: str = "write"  # write | adapt | choose (review.slot_modes)
    base: str = ""  # adapt: the approved sentence the model personalizes
    alternatives: tuple[Alternative, ...] = ()  # choose: approved texts, each with its conditions
    # Inputs a model-written fill must name ("Mention their type of account"): a brand's `mention`
    # rule reports a fill that leaves one out (brand_guidelines/README.md).
    must_name: tuple[str, ...] = ()

    def approved_wording(self) -> tuple[str, ...]:
        """The words people approved for this slot as they are: its fallback, base and
        alternatives (rules about what a model-written fill must do leave these alone)."""
        return tuple(t.strip() for t in (self.fallback, self.base, *(a.text for a in self.alternatives)) if t and t.strip())

    def approved_texts(self) -> dict[str, Any]:
        """The mode and the approved texts it draws on: part of the fill cache's key."""
        return {"mode": self.mode, "base": self.base, "alternatives": [[a.text, [[f, list(v)] for f, v in a.when]] for a in self.alternatives]}


@dataclass(frozen=True)
class TemplateSpec:
    """A parsed, validated template."""

    name: str
    channel: str
    subject: str
    body: str
    slots: dict[str, SlotSpec]
    slot_order: tuple[str, ...]  # slots in order of first use in the body
    merge_fields: tuple[str, ...]  # recipient fields used directly by the body or subject
    description: str = ""
    body_line_offset: int = 0  # body line 1 is file line body_line_offset + 1
    source: str = field(default="", repr=False)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()

    def slot_fields(self) -> tuple[str, ...]:
        """All recipient fields any slot may see, sorted: the keys variants are grouped by."""
        return tuple(sorted({f for s in self.slots.values() for f in s.inputs}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "channel": self.channel,
            "subject": self.subject,
            "description": self.description,
            "slots": {k: asdict(v) for k, v in self.slots.items()},
            "slot_order": list(self.slot_order),
            "merge_fields": list(self.merge_fields),
        }


# ---------------------------------------------------------------------------- parsing


def _split_front_matter(source: str, name: str) -> tuple[str, str, int]:
    text = source.lstrip("\ufeff").replace("\r\n", "\n")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise TemplateError("the file must start with a '---' line opening the YAML front matter", line=1, source=name)
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1 :]), i + 1
    raise TemplateError("the YAML front matter is never closed by a '---' line", line=1, source=name)


def _as_str_list(value: Any) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    return None


def _check_text(source: str, name: str) -> None:
    """Refuse an empty, oversized or invisibly-marked file before reading anything in it."""
    if not isinstance(source, str) or not source.strip():
        raise TemplateError("the template is empty", source=name)
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"the template is longer than {MAX_TEMPLATE_CHARS:,} characters", source=name)
    bad = textsafety.find_unsafe(source.lstrip("\ufeff"))
    if bad is not None:
        text = source.lstrip("\ufeff")
        raise TemplateError(f"contains {textsafety.describe(text[bad])}, which readers cannot see; remove it", line=text.count("\n", 0, bad) + 1, source=name)


class _FrontMatter:
    """The parsed front matter, able to name the file line of any key in it."""

    def __init__(self, front: str, name: str) -> None:
        self.name = name
        try:
            self.doc = yamlsafe.loads(front)
        except yamlsafe.YamlRefused as e:
            reason = e.reason if e.reason.startswith("not valid YAML") else f"front matter refused: {e.reason}"
            raise TemplateError(reason.replace("not valid YAML", "front matter is not valid YAML", 1), line=(e.line or 0) + 1, source=name) from None
        meta = self.doc.value or {}
        if not isinstance(meta, dict):
            raise TemplateError("front matter must be a mapping of keys", line=2, source=name)
        self.meta: dict[Any, Any] = meta

    def line(self, *path: str | int) -> int:
        return self.doc.line(*path) + 1 if self.doc.node is not None else 2  # +1: the opening '---'

    def fail(self, msg: str, *path: str | int) -> TemplateError:
        return TemplateError(msg, line=self.line(*path), source=self.name)


def _slot_spec(fm: _FrontMatter, sname: str, decl: Any) -> SlotSpec:
    """One slot's declaration, validated; errors name the line of the offending key."""
    if not _SLOT_NAME.fullmatch(sname):
        raise fm.fail(f"slot name '{sname}' must be lower_snake_case", "slots", sname)
    if not isinstance(decl, dict):
        raise fm.fail(f"slot '{sname}' must be a mapping with instruction, inputs, max_words, examples, fallback", "slots", sname)
    extra = sorted(set(decl) - SLOT_KEYS)
    if extra:
        raise fm.fail(f"slot '{sname}': unknown key '{extra[0]}'", "slots", sname, extra[0])
    write = mode_of(fm, sname, decl) == "write"  # adapt and choose start from approved text
    if decl.get("mode") == "adapt" and "fallback" not in decl and isinstance(decl.get("base"), str):
        decl = {**decl, "fallback": decl["base"]}  # an adapt slot's base is approved text: the default fallback
    for req in ("instruction", "max_words", "fallback") if write else ("max_words", "fallback"):
        if req not in decl:
            raise fm.fail(f"slot '{sname}': '{req}' is required", "slots", sname)
    instruction = decl.get("instruction", "")
    if not isinstance(instruction, str) or not (instruction.strip() or not write):
        raise fm.fail(f"slot '{sname}': 'instruction' must be text", "slots", sname, "instruction")
    max_words = decl["max_words"]
    if isinstance(max_words, bool) or not isinstance(max_words, int) or not 1 <= max_words <= 200:
        raise fm.fail(f"slot '{sname}': 'max_words' must be a whole number from 1 to 200", "slots", sname, "max_words")
    inputs = _as_str_list(decl.get("inputs"))
    if inputs is None:
        raise fm.fail(f"slot '{sname}': 'inputs' must be a list of recipient field names", "slots", sname, "inputs")
    examples = _as_str_list(decl.get("examples"))
    if examples is None:
        raise fm.fail(f"slot '{sname}': 'examples' must be a list of texts", "slots", sname, "examples")
    fallback = decl["fallback"]
    if not isinstance(fallback, str) or not fallback.strip():
        raise fm.fail(f"slot '{sname}': 'fallback' must be human-written text", "slots", sname, "fallback")
    if word_count(fallback) > max_words:
        raise fm.fail(f"slot '{sname}': the fallback has more than max_words ({max_words}) words", "slots", sname, "fallback")
    mode, base, alternatives = parse_mode(fm, sname, decl, inputs, max_words)
    must_name = _as_str_list(decl.get("must_name"))
    if must_name is None:
        raise fm.fail(f"slot '{sname}': 'must_name' must be a list of the slot's inputs", "slots", sname, "must_name")
    for f in must_name:
        if f not in inputs:
            declared = ", ".join(inputs) or "none"
            raise fm.fail(f"slot '{sname}': 'must_name' lists '{f}', which is not one of the slot's inputs ({declared})", "slots", sname, "must_name")
    return SlotSpec(
        name=sname,
        instruction=instruction.strip(),
        inputs=tuple(inputs),
        max_words=max_words,
        examples=tuple(e.strip() for e in examples),
        fallback=fallback.strip(),
        mode=mode,
        base=base,
        alternatives=alternatives,
        must_name=tuple(must_name),
    )


@dataclass(frozen=True)
class _Uses:
    """What the body and subject use, each with its file line."""

    slots: dict[str, int]  # slot -> body line
    body_fields: dict[str, int]  # recipient field -> body line
    subject_fields: tuple[str, ...]


def _check_jinja(fm: _FrontMatter, body: str, body_offset: int, subject: str, slots: dict[str, SlotSpec]) -> _Uses:
    """Body and subject: syntax, vetting, names, and slots used exactly as declared."""
    name = fm.name

    def parse_jinja(text: str, offset: int, what: str) -> nodes.Template:
        try:
            return _ENV.parse(text)
        except TemplateSyntaxError as e:
            raise TemplateError(f"{what}: {e.message}", line=(e.lineno or 1) + offset, source=name) from None

    body_ast = parse_jinja(body, body_offset, "template syntax error")
    subject_ast = parse_jinja(subject, fm.line("subject") - 1, "subject syntax error")
    refused = [(ln + body_offset, why) for ln, why in vet(body_ast)] + [(fm.line("subject"), why) for _, why in vet(subject_ast)]
    if refused:
        ln, why = min(refused, key=lambda p: p[0])  # the first on the earliest line
        raise TemplateError(why, line=ln, source=name)
    try:
        used_slots, used_fields, others = referenced(body_ast)
        s_slots, s_fields, s_others = referenced(subject_ast)
    except TemplateError as e:
        raise TemplateError(e.reason, line=(e.line or 1) + body_offset, source=name) from None
    if others:
        nm, ln = next(iter(sorted(others.items(), key=lambda kv: kv[1])))
        raise TemplateError(f"unknown name '{nm}': the body may use recipient.<field>, slots.<slot> and brand.<key>", line=ln + body_offset, source=name)
    if s_slots or s_others:
        raise fm.fail("the subject may use recipient fields but not slots or other names", "subject")
    for sname, ln in used_slots.items():
        if sname not in slots:
            raise TemplateError(f"slot '{sname}' is used but not declared in the front matter", line=ln + body_offset, source=name)
    for sname in slots:
        if sname not in used_slots:
            raise fm.fail(f"slot '{sname}' is declared but never used in the body", "slots", sname)
    return _Uses(used_slots, {f: ln + body_offset for f, ln in used_fields.items()}, tuple(s_fields))


def _check_policy(fm: _FrontMatter, policy: BrandPolicy, slots: dict[str, SlotSpec], uses: _Uses) -> None:
    """The brand's budget: how many slots, and which recipient fields may be used at all."""
    if len(slots) > policy.max_slots:
        raise fm.fail(f"{len(slots)} slots declared but brand '{policy.name}' allows at most {policy.max_slots}", "slots")
    for sname, spec in slots.items():
        for f in spec.inputs:
            _check_field(policy, f, line=fm.line("slots", sname, "inputs"), name=fm.name, where=f"slot '{sname}'")
        check_enum_values(fm, sname, spec.alternatives, lambda f: fs.values if (fs := policy.field_spec(f)) is not None and fs.type == "enum" else ())
    for f, ln in uses.body_fields.items():
        _check_field(policy, f, line=ln, name=fm.name, where="the body")
    for f in uses.subject_fields:
        _check_field(policy, f, line=fm.line("subject"), name=fm.name, where="the subject")


def _check_field(policy: BrandPolicy, f: str, *, line: int, name: str, where: str) -> None:
    if f in policy.sensitive_fields:
        raise TemplateError(f"{where} uses '{f}', a sensitive field that is never personalized on", line=line, source=name)
    if f not in policy.allowed_fields:
        raise TemplateError(
            f"{where} uses '{f}', which is not in brand '{policy.name}' allowed_fields ({', '.join(policy.allowed_fields)})",
            line=line,
            source=name,
        )


def parse_template(source: str, policy: BrandPolicy | None = None, *, name: str = "template") -> TemplateSpec:
    """Parse and validate a template. Raises TemplateError naming the line of the problem.

    With a brand policy, also enforce the personalization budget and allowed fields.
    """
    _check_text(source, name)
    front, body, body_offset = _split_front_matter(source, name)
    fm = _FrontMatter(front, name)
    meta = fm.meta
    unknown = sorted(set(meta) - TOP_KEYS)
    if unknown:
        raise fm.fail(f"unknown front matter key '{unknown[0]}' (allowed: {', '.join(sorted(TOP_KEYS))})", unknown[0])
    tname = meta.get("name")
    if not isinstance(tname, str) or not tname.strip():
        raise fm.fail("'name' is required and must be text", "name")
    channel = meta.get("channel", "email")
    if channel not in CHANNELS:
        raise fm.fail(f"'channel' must be one of {', '.join(CHANNELS)}, not {channel!r}", "channel")
    subject = meta.get("subject", "")
    if not isinstance(subject, str):
        raise fm.fail("'subject' must be text", "subject")
    raw_slots = meta.get("slots") or {}
    if not isinstance(raw_slots, dict):
        raise fm.fail("'slots' must be a mapping of slot name to its declaration", "slots")
    slots: dict[str, SlotSpec] = {}
    for sname, decl in raw_slots.items():
        slots[str(sname)] = _slot_spec(fm, str(sname), decl)
    uses = _check_jinja(fm, body, body_offset, subject, slots)
    if policy is not None:
        _check_policy(fm, policy, slots, uses)
    return TemplateSpec(
        name=tname.strip(),
        channel=channel,
        subject=subject,
        body=body,
        slots=slots,
        slot_order=tuple(k for k, _ in sorted(uses.slots.items(), key=lambda kv: kv[1])),
        merge_fields=tuple(sorted(set(uses.body_fields) | set(uses.subject_fields))),
        description=str(meta.get("description") or ""),
        body_line_offset=body_offset,
        source=source,
    )


def read_template_file(path: Path) -> str:
    """A template file's text. Raises TemplateError for a file too big to be a template or not UTF-8."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_TEMPLATE_CHARS * 4 + 1)
    except OSError as e:
        raise TemplateError(f"cannot read the file: {e.strerror or e}", source=str(path)) from None
    if len(raw) > MAX_TEMPLATE_CHARS * 4:
        raise TemplateError(f"the file is larger than {MAX_TEMPLATE_CHARS * 4 // 1024} KB", source=str(path))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise TemplateError("not UTF-8 text (save the file as UTF-8)", line=raw[: e.start].count(b"\n") + 1, source=str(path)) from None


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def sha256_json(data: Any) -> str:
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()
