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
with its line (`_vet`): output, `if`, one level of `for` over a recipient field or
`brand.disclaimers`, a few text filters, comparisons and short literals. No include, import,
extends, macro, call, set, block, filter block, arithmetic, function call, or attribute access
on anything but `recipient`, `slots` and `brand`. Rendering is bounded as well (defence in
depth for anything that slipped past the vetting): constant folding is off, string
repetition and powers are capped in the sandbox, and every render is capped in output size
and time. Every failure is a TemplateError.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from jinja2.exceptions import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

from . import textsafety, yamlsafe
from .brands import BrandPolicy
from .errors import TemplateError

SLOT_KEYS = {"instruction", "inputs", "max_words", "examples", "fallback"}
TOP_KEYS = {"name", "channel", "subject", "description", "slots"}
CHANNELS = ("email", "sms", "push", "letter")
# Top-level names a body may use. Anything else is a typo or an attempt to reach data we
# did not intend to expose.
BODY_NAMES = {"recipient", "slots", "brand"}
BRAND_KEYS = frozenset({"name", "industry", "disclaimers"})  # BrandPolicy.as_render_context
FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim", "join", "length"})
MAX_TEMPLATE_CHARS = 100_000
MAX_LITERAL_CHARS = 200
MAX_LITERAL_INT = 1_000_000
MAX_BODY_CHARS = 100_000  # a rendered body (before slot texts are put in)
MAX_SUBJECT_CHARS = 1_000
# CPU seconds of the rendering thread, not wall time: a loaded machine or another process must
# never fail a legitimate export (a normal render takes well under a millisecond).
MAX_RENDER_SECONDS = 5.0
MAX_POWER = 64


class _Sandbox(SandboxedEnvironment):
    """The sandbox, with `*` and `**` bounded: a template saved before vetting, or a value we did
    not foresee, still cannot build a gigabyte string or a million-digit number."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        numbers = isinstance(left, (int, float)) and isinstance(right, (int, float))
        if operator == "**" and numbers and (abs(right) > MAX_POWER or abs(left) > MAX_LITERAL_INT):
            raise SecurityError(f"'**' with operands this large is refused (at most {MAX_POWER} as the power)")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_BODY_CHARS:
                    raise SecurityError(f"repeating a text or list to more than {MAX_BODY_CHARS} items is refused")
            if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > 256:
                raise SecurityError("multiplying numbers this large is refused")
        return super().call_binop(context, operator, left, right)


# optimized=False: no constant folding at compile time, so no literal is ever computed there.
_ENV = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, optimized=False)


@dataclass(frozen=True)
class SlotSpec:
    """One personalizable part of a template."""

    name: str
    instruction: str
    inputs: tuple[str, ...]
    max_words: int
    examples: tuple[str, ...]
    fallback: str


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


@dataclass(frozen=True)
class Rendered:
    """A message rendered for one recipient, with its fixed copy kept apart from slot text."""

    subject: str
    body: str
    fixed_segments: tuple[str, ...]
    slot_sequence: tuple[str, ...]


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


def _referenced(ast: nodes.Template) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Return (slots used, recipient fields used, other top-level names) -> first line."""
    slots: dict[str, int] = {}
    fields: dict[str, int] = {}
    others: dict[str, int] = {}
    attr_names: set[int] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if not isinstance(target, nodes.Name):
            continue
        if isinstance(node, nodes.Getattr):
            key: str | None = node.attr
        else:
            key = node.arg.value if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str) else None
        if key is None:
            raise TemplateError(f"'{target.name}[...]' must use a literal field name", line=node.lineno)
        attr_names.add(id(target))
        bucket = {"slots": slots, "recipient": fields}.get(target.name)
        if bucket is not None:
            bucket.setdefault(key, node.lineno)
    local: set[str] = set()
    for node in ast.find_all((nodes.For, nodes.Assign, nodes.Macro)):
        for n in node.find_all(nodes.Name):
            if n.ctx in ("store", "param"):
                local.add(n.name)
    for n in ast.find_all(nodes.Name):
        if n.ctx != "load" or n.name in local:
            continue
        if n.name not in BODY_NAMES:
            others.setdefault(n.name, n.lineno)
        elif n.name in ("slots", "recipient") and id(n) not in attr_names:
            others.setdefault(f"{n.name} (used whole)", n.lineno)
    return slots, fields, others


_TAGS: dict[type[nodes.Node], str] = {
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.Extends: "{% extends %}",
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.Assign: "{% set %}",
    nodes.AssignBlock: "{% set %}",
    nodes.Block: "{% block %}",
    nodes.FilterBlock: "{% filter %}",
    nodes.With: "{% with %}",
    nodes.Scope: "{% autoescape %}",
    nodes.ScopedEvalContextModifier: "{% autoescape %}",
    nodes.EvalContextModifier: "{% autoescape %}",
    nodes.Call: "a function or method call",
    nodes.Slice: "slicing",
    nodes.Test: "an 'is' test",
    nodes.Dict: "a dict literal",
}
_PLAIN = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.If,
    nodes.Name,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Concat,
    nodes.CondExpr,
    nodes.List,
    nodes.Tuple,
    nodes.Keyword,
)
_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_ACCESS = "attribute access is only allowed as recipient.<field>, slots.<slot> or brand.<key>"


def _vet(ast: nodes.Template) -> list[tuple[int, str]]:
    """(line, reason) for every construct a message template has no business using."""
    problems: list[tuple[int, str]] = []

    def walk(node: nodes.Node, loop_vars: frozenset[str], in_loop: bool, at: int = 1) -> None:
        line = node.lineno or next((n.lineno for n in node.find_all(nodes.Node) if n.lineno), at)  # autoescape's Scope has none
        if isinstance(node, _PLAIN):
            pass
        elif isinstance(node, nodes.For):
            if in_loop:
                problems.append((line, "a loop inside a loop is not allowed"))
            if node.recursive:
                problems.append((line, "a recursive loop is not allowed"))
            if not isinstance(node.target, nodes.Name):
                problems.append((line, "'{% for %}' takes one loop variable"))
            it = node.iter
            if not (isinstance(it, (nodes.Getattr, nodes.Getitem)) and isinstance(it.node, nodes.Name) and it.node.name in ("recipient", "brand")):
                problems.append((line, "'{% for %}' may only loop over a recipient field or brand.disclaimers"))
            walk(it, loop_vars, in_loop, line)
            inner = loop_vars | {node.target.name} if isinstance(node.target, nodes.Name) else loop_vars
            for child in (*node.body, *node.else_, *([node.test] if node.test is not None else [])):
                walk(child, inner, True, line)
            return
        elif isinstance(node, (nodes.Getattr, nodes.Getitem)):
            target = node.node
            if not isinstance(target, nodes.Name) or target.name in loop_vars:
                problems.append((line, _ACCESS))
                return
            key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
            if target.name in ("recipient", "slots") and isinstance(key, str) and not _NAME.fullmatch(key):
                problems.append((line, f"'{target.name}.{key}' is not a field or slot name (lower_snake_case)"))
            elif target.name == "brand" and key not in BRAND_KEYS:
                problems.append((line, f"brand.{key} is not available (use brand.{', brand.'.join(sorted(BRAND_KEYS))})"))
            return  # other names, and non-literal keys, are reported by _referenced
        elif isinstance(node, nodes.Const):
            v = node.value
            if isinstance(v, str) and len(v) > MAX_LITERAL_CHARS:
                problems.append((line, f"a text literal longer than {MAX_LITERAL_CHARS} characters; write fixed copy outside {{{{ }}}}"))
            elif isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) > MAX_LITERAL_INT:
                problems.append((line, f"a number larger than {MAX_LITERAL_INT:,}"))
            return
        elif isinstance(node, nodes.Filter):
            if node.name not in FILTERS:
                problems.append((line, f"the filter '{node.name}' is not allowed (allowed: {', '.join(sorted(FILTERS))})"))
            if node.dyn_args is not None or node.dyn_kwargs is not None:
                problems.append((line, "filter arguments must be written out"))
            for arg in (*node.args, *(k.value for k in node.kwargs)):
                if not isinstance(arg, nodes.Const):
                    problems.append((line, f"the filter '{node.name}' takes literal arguments only"))
        elif isinstance(node, (nodes.BinExpr, nodes.UnaryExpr)):
            problems.append((line, f"arithmetic ('{node.operator}') is not allowed in a template"))
            return
        else:
            what = _TAGS.get(type(node), f"'{type(node).__name__}'")
            problems.append((line, f"{what} is not allowed: a template holds fixed copy, slots, recipient fields, if and for"))
            return
        for child in node.iter_child_nodes():
            walk(child, loop_vars, in_loop, line)

    walk(ast, frozenset(), False)
    return problems


def parse_template(source: str, policy: BrandPolicy | None = None, *, name: str = "template") -> TemplateSpec:
    """Parse and validate a template. Raises TemplateError naming the line of the problem.

    With a brand policy, also enforce the personalization budget and allowed fields.
    """
    if not isinstance(source, str) or not source.strip():
        raise TemplateError("the template is empty", source=name)
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"the template is longer than {MAX_TEMPLATE_CHARS:,} characters", source=name)
    bad = textsafety.find_unsafe(source.lstrip("\ufeff"))
    if bad is not None:
        text = source.lstrip("\ufeff")
        raise TemplateError(f"contains {textsafety.describe(text[bad])}, which readers cannot see; remove it", line=text.count("\n", 0, bad) + 1, source=name)
    front, body, body_offset = _split_front_matter(source, name)
    try:
        doc = yamlsafe.loads(front)
    except yamlsafe.YamlRefused as e:
        reason = e.reason if e.reason.startswith("not valid YAML") else f"front matter refused: {e.reason}"
        raise TemplateError(reason.replace("not valid YAML", "front matter is not valid YAML", 1), line=(e.line or 0) + 1, source=name) from None
    meta = doc.value or {}
    if not isinstance(meta, dict):
        raise TemplateError("front matter must be a mapping of keys", line=2, source=name)

    def line_of(*path: str) -> int:
        return doc.line(*path) + 1 if doc.node is not None else 2  # +1: the opening '---'

    def fail(msg: str, *path: str) -> TemplateError:
        return TemplateError(msg, line=line_of(*path), source=name)

    unknown = sorted(set(meta) - TOP_KEYS)
    if unknown:
        raise fail(f"unknown front matter key '{unknown[0]}' (allowed: {', '.join(sorted(TOP_KEYS))})", unknown[0])
    tname = meta.get("name")
    if not isinstance(tname, str) or not tname.strip():
        raise fail("'name' is required and must be text", "name")
    channel = meta.get("channel", "email")
    if channel not in CHANNELS:
        raise fail(f"'channel' must be one of {', '.join(CHANNELS)}, not {channel!r}", "channel")
    subject = meta.get("subject", "")
    if not isinstance(subject, str):
        raise fail("'subject' must be text", "subject")
    raw_slots = meta.get("slots") or {}
    if not isinstance(raw_slots, dict):
        raise fail("'slots' must be a mapping of slot name to its declaration", "slots")

    slots: dict[str, SlotSpec] = {}
    for sname, decl in raw_slots.items():
        sname = str(sname)
        if not re.fullmatch(r"[a-z][a-z0-9_]*", sname):
            raise fail(f"slot name '{sname}' must be lower_snake_case", "slots", sname)
        if not isinstance(decl, dict):
            raise fail(f"slot '{sname}' must be a mapping with instruction, inputs, max_words, examples, fallback", "slots", sname)
        extra = sorted(set(decl) - SLOT_KEYS)
        if extra:
            raise fail(f"slot '{sname}': unknown key '{extra[0]}'", "slots", sname, extra[0])
        for req in ("instruction", "max_words", "fallback"):
            if req not in decl:
                raise fail(f"slot '{sname}': '{req}' is required", "slots", sname)
        instruction = decl["instruction"]
        if not isinstance(instruction, str) or not instruction.strip():
            raise fail(f"slot '{sname}': 'instruction' must be text", "slots", sname, "instruction")
        max_words = decl["max_words"]
        if isinstance(max_words, bool) or not isinstance(max_words, int) or not 1 <= max_words <= 200:
            raise fail(f"slot '{sname}': 'max_words' must be a whole number from 1 to 200", "slots", sname, "max_words")
        inputs = _as_str_list(decl.get("inputs"))
        if inputs is None:
            raise fail(f"slot '{sname}': 'inputs' must be a list of recipient field names", "slots", sname, "inputs")
        examples = _as_str_list(decl.get("examples"))
        if examples is None:
            raise fail(f"slot '{sname}': 'examples' must be a list of texts", "slots", sname, "examples")
        fallback = decl["fallback"]
        if not isinstance(fallback, str) or not fallback.strip():
            raise fail(f"slot '{sname}': 'fallback' must be human-written text", "slots", sname, "fallback")
        if len(fallback.split()) > max_words:
            raise fail(f"slot '{sname}': the fallback has more than max_words ({max_words}) words", "slots", sname, "fallback")
        slots[sname] = SlotSpec(
            name=sname,
            instruction=instruction.strip(),
            inputs=tuple(inputs),
            max_words=max_words,
            examples=tuple(e.strip() for e in examples),
            fallback=fallback.strip(),
        )

    def parse_jinja(text: str, offset: int, what: str) -> nodes.Template:
        try:
            return _ENV.parse(text)
        except TemplateSyntaxError as e:
            raise TemplateError(f"{what}: {e.message}", line=(e.lineno or 1) + offset, source=name) from None

    body_ast = parse_jinja(body, body_offset, "template syntax error")
    subject_ast = parse_jinja(subject, line_of("subject") - 1, "subject syntax error")
    refused = [(ln + body_offset, why) for ln, why in _vet(body_ast)] + [(line_of("subject"), why) for _, why in _vet(subject_ast)]
    if refused:
        ln, why = min(refused, key=lambda p: p[0])  # the first on the earliest line
        raise TemplateError(why, line=ln, source=name)
    try:
        used_slots, used_fields, others = _referenced(body_ast)
        s_slots, s_fields, s_others = _referenced(subject_ast)
    except TemplateError as e:
        raise TemplateError(e.reason, line=(e.line or 1) + body_offset, source=name) from None
    if others:
        nm, ln = next(iter(sorted(others.items(), key=lambda kv: kv[1])))
        raise TemplateError(
            f"unknown name '{nm}': the body may use recipient.<field>, slots.<slot> and brand.<key>",
            line=ln + body_offset,
            source=name,
        )
    if s_slots or s_others:
        raise fail("the subject may use recipient fields but not slots or other names", "subject")
    for sname, ln in used_slots.items():
        if sname not in slots:
            raise TemplateError(f"slot '{sname}' is used but not declared in the front matter", line=ln + body_offset, source=name)
    for sname in slots:
        if sname not in used_slots:
            raise fail(f"slot '{sname}' is declared but never used in the body", "slots", sname)

    merge_fields = dict(used_fields)
    for f, ln in s_fields.items():
        merge_fields.setdefault(f, ln)
    if policy is not None:
        if len(slots) > policy.max_slots:
            raise fail(
                f"{len(slots)} slots declared but brand '{policy.name}' allows at most {policy.max_slots}",
                "slots",
            )
        for sname, spec in slots.items():
            for f in spec.inputs:
                _check_field(policy, f, TemplateError, line=line_of("slots", sname, "inputs"), name=name, where=f"slot '{sname}'")
        for f, ln in used_fields.items():
            _check_field(policy, f, TemplateError, line=ln + body_offset, name=name, where="the body")
        for f in s_fields:
            _check_field(policy, f, TemplateError, line=line_of("subject"), name=name, where="the subject")

    ordered = sorted(used_slots.items(), key=lambda kv: kv[1])
    return TemplateSpec(
        name=tname.strip(),
        channel=channel,
        subject=subject,
        body=body,
        slots=slots,
        slot_order=tuple(k for k, _ in ordered),
        merge_fields=tuple(sorted(merge_fields)),
        description=str(meta.get("description") or ""),
        body_line_offset=body_offset,
        source=source,
    )


def _check_field(policy: BrandPolicy, f: str, exc: type[TemplateError], *, line: int, name: str, where: str) -> None:
    if f in policy.sensitive_fields:
        raise exc(f"{where} uses '{f}', a sensitive field that is never personalized on", line=line, source=name)
    if f not in policy.allowed_fields:
        raise exc(
            f"{where} uses '{f}', which is not in brand '{policy.name}' allowed_fields ({', '.join(policy.allowed_fields)})",
            line=line,
            source=name,
        )


# -------------------------------------------------------------------------- rendering

_SENTINEL = "\x00SLOT{}\x00"


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    """Compile each distinct template text once: compiling costs ~100x a render."""
    return _ENV.from_string(source)


def _render_capped(source: str, limit: int, what: str, name: str, **context: Any) -> str:
    """Render, stopping as soon as the output passes `limit` characters or MAX_RENDER_SECONDS."""
    started = time.thread_time()
    parts: list[str] = []
    size = 0
    for chunk in _compiled(source).generate(**context):
        size += len(chunk)
        if size > limit:
            raise TemplateError(f"the {what} is longer than {limit:,} characters when rendered", source=name)
        if time.thread_time() - started > MAX_RENDER_SECONDS:
            raise TemplateError(f"rendering the {what} took more than {MAX_RENDER_SECONDS:g} s of CPU", source=name)
        parts.append(chunk)
    return "".join(parts)


def render(spec: TemplateSpec, recipient: Mapping[str, Any], slots: Mapping[str, str], brand: Mapping[str, Any] | None = None) -> Rendered:
    """Render subject and body for one recipient. Any failure (a missing field, the sandbox, a
    size or time cap) raises TemplateError."""
    order = list(spec.slots)
    marked = {k: _SENTINEL.format(i) for i, k in enumerate(order)}
    ctx_brand = dict(brand or {})
    try:
        subject = _render_capped(spec.subject, MAX_SUBJECT_CHARS, "subject", spec.name, recipient=dict(recipient), slots={}, brand=ctx_brand)
        skeleton = _render_capped(spec.body, MAX_BODY_CHARS, "body", spec.name, recipient=dict(recipient), slots=marked, brand=ctx_brand)
    except TemplateError:
        raise
    except UndefinedError as e:
        raise TemplateError(f"cannot render: {e.message}", source=spec.name) from None
    except SecurityError as e:
        raise TemplateError(f"refused by the sandbox: {e}", source=spec.name) from None
    except JinjaError as e:
        raise TemplateError(f"cannot render: {e.message}", source=spec.name) from None
    except Exception as e:  # noqa: BLE001 - whatever a template does wrong is the template's error, never a traceback
        raise TemplateError(f"cannot render: {type(e).__name__}: {str(e)[:200]}", source=spec.name) from None
    missing = [k for k in order if k not in slots]
    if missing:
        raise TemplateError(f"no text for slot '{missing[0]}'", source=spec.name)
    pieces = re.split("\x00SLOT(\\d+)\x00", skeleton)
    fixed = tuple(pieces[0::2])
    sequence = tuple(order[int(i)] for i in pieces[1::2])
    body_parts: list[str] = []
    for i, seg in enumerate(fixed):
        body_parts.append(seg)
        if i < len(sequence):
            body_parts.append(slots[sequence[i]])
    return Rendered(subject=subject.strip(), body="".join(body_parts), fixed_segments=fixed, slot_sequence=sequence)


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


def spec_from_dict(source: str, policy: BrandPolicy | None = None) -> TemplateSpec:
    """Re-parse a stored template version (source is the single source of truth)."""
    return parse_template(source, policy)


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def sha256_json(data: Any) -> str:
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()
