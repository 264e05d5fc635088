"""Rendering a parsed template: Jinja2's sandbox, bounded in output size, CPU time and
arithmetic, with slot texts passed as data (a model's text is never evaluated as template code).

Parsing and vetting (review.templates, review.template_vetting) refuse what a message does not
need when a template is saved; the bounds here are defence in depth for anything that slipped
past them (a version stored before the vetting existed, a value nobody foresaw). Every failure
is a TemplateError.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, Template, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.exceptions import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

from .errors import TemplateError

if TYPE_CHECKING:
    from .templates import TemplateSpec

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
class Rendered:
    """A message rendered for one recipient, with its fixed copy kept apart from slot text."""

    subject: str
    body: str
    fixed_segments: tuple[str, ...]
    slot_sequence: tuple[str, ...]


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
