"""What a message template may contain, checked on its Jinja2 syntax tree when it is saved.

Output, `if`, one level of `for` over a recipient field or `brand.disclaimers`, a few text
filters, comparisons and short literals. No include, import, extends, macro, call, set, block,
filter block, arithmetic, function call, or attribute access on anything but `recipient`,
`slots` and `brand`. `vet` lists what is refused with its line; `referenced` lists the slots,
recipient fields and other names a template uses.
"""

from __future__ import annotations

import re

from jinja2 import nodes

from .errors import TemplateError
from .template_render import MAX_LITERAL_INT

# Top-level names a body may use. Anything else is a typo or an attempt to reach data we
# did not intend to expose.
BODY_NAMES = {"recipient", "slots", "brand"}
BRAND_KEYS = frozenset({"name", "industry", "disclaimers"})  # BrandPolicy.as_render_context
FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim", "join", "length"})
MAX_LITERAL_CHARS = 200


def referenced(ast: nodes.Template) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Return (slots used, recipient fields used, other top-level names) -> first line."""
    slots: dict[str, int] = {}
    fields: dict[str, int] = {}
    others: dict[str, int] = {}
    attr_names: set[int] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, (nodes.Getattr, nodes.Getitem))  # find_all is typed loosely
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
    for scope in ast.find_all((nodes.For, nodes.Assign, nodes.Macro)):
        for n in scope.find_all(nodes.Name):
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


def vet(ast: nodes.Template) -> list[tuple[int, str]]:
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
            return  # other names, and non-literal keys, are reported by referenced
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
