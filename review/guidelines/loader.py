"""Loading a brand's guideline folder: every file validated, every problem collected, then compiled once.

brand.yaml and claims.yaml are read through their one parser each (review.brands, review.claims);
this module reads the rule files and vocab lists and turns their problems into GuidelineErrors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .. import yamlsafe
from ..yamlsafe import describe_value, did_you_mean
from .errors import GuidelineError, GuidelineLoadError
from .findings import LEVELS, SCOPES
from .registry import registered_types
from .rule import BrandEnv, Claim, Opt, Rule
from .rules.budget import Budget
from .rules.existence import Existence
from .rules.length import Length
from .rules.required import Required
from .terms import OptionError, compile_terms

COMMON: dict[str, Opt] = {
    "extends": Opt("str", required=True, doc="the rule type"),
    "message": Opt("str", doc="what the reviewer reads; %s or {match} quote the text"),
    "level": Opt("str", doc="error | warning | suggestion | off"),
    "scope": Opt("str", doc="slot | message | subject | fixed"),
    "link": Opt("str", doc="where the guideline is explained"),
    "ignorecase": Opt("bool", default=True, doc="false: match letter case exactly"),
    "description": Opt("str", doc="a note for the brand team; not shown to reviewers"),
}
_KIND_WORDS = {
    "str": "text",
    "int": "a whole number",
    "number": "a number",
    "bool": "true or false",
    "terms": "a list of texts",
    "strlist": "a list of texts",
    "map": "a mapping of text to text",
    "termmap": "a mapping of names to lists of texts",
}


class _File:
    """One YAML file with its node tree, so any error can name the line it is on."""

    def __init__(self, path: Path, errors: list[GuidelineError]):
        self.path = path
        self.errors = errors
        self.node: yaml.Node | None = None
        self.value: Any = None
        self.ok = True
        try:
            doc = yamlsafe.load_file(path)
        except yamlsafe.YamlRefused as e:
            self.fail(e.line, e.reason)
            return
        self.node, self.value = doc.node, doc.value

    def fail(self, line: int | None, reason: str) -> None:
        self.ok = False
        self.errors.append(GuidelineError(str(self.path), line, reason))

    def line(self, *path: str | int) -> int:
        """Line of the node at `path` (yamlsafe.line_of: the one "which line is this key on" helper)."""
        return yamlsafe.line_of(self.node, *path)


def _check_kind(f: _File, spec: Opt, key: str, value: Any, base: tuple[str | int, ...] = ()) -> Any:
    """Validate one option value against its kind; returns the value (single text -> list) or reports."""
    where = (*base, key)
    bad = f"'{key}' must be {_KIND_WORDS[spec.kind]}, not {describe_value(value)}"
    if spec.kind == "str":
        if isinstance(value, str):
            return value
    elif spec.kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif spec.kind == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
    elif spec.kind == "bool":
        if isinstance(value, bool):
            return value
    elif spec.kind in ("terms", "strlist"):
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            for i, item in enumerate(value):
                if not isinstance(item, str) or not item.strip():
                    f.fail(f.line(*where, i), f"'{key}' item {i + 1} must be text, not {describe_value(item)}" + _quote_hint(item))
                    return None
            return value
    elif spec.kind == "map":
        if isinstance(value, dict):
            for i, (k, v) in enumerate(value.items()):
                if not isinstance(k, str) or not isinstance(v, str):
                    bad_one = k if not isinstance(k, str) else v
                    f.fail(f.line(*where, i), f"'{key}' entries must be text: {k!r}: {v!r}" + _quote_hint(bad_one))
                    return None
            return value
    elif spec.kind == "termmap" and isinstance(value, dict):
        out = {}
        for i, (k, v) in enumerate(value.items()):
            if isinstance(v, str):
                v = [v]
            if not isinstance(k, str) or not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
                f.fail(f.line(*where, i), f"'{key}' must map each name to a list of texts (problem at {k!r})")
                return None
            out[k] = v
        return out
    f.fail(f.line(*where), bad)
    return None


def _quote_hint(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return " (YAML reads yes/no/on/off/true/false/null as special values: put the word in quotes)"
    return ""


def _load_rule(f: _File, rid: str, env: BrandEnv) -> Rule | None:
    """Validate and compile one rule file; every problem goes to f.errors."""
    if not f.ok:
        return None
    data, node = f.value, f.node
    if not isinstance(data, dict) or node is None:
        f.fail(f.line(), f"a rule file must be a mapping of keys to values, not {describe_value(data)}")
        return None
    types = registered_types()
    errors_before = len(f.errors)
    first = f.line()
    ext = data.get("extends")
    cls: type[Rule] | None = None
    if "extends" not in data:
        f.fail(first, "missing required key 'extends' (the rule type, e.g. existence)")
    elif not isinstance(ext, str):
        f.fail(f.line("extends"), f"'extends' must be text, not {describe_value(ext)}")
    elif ext not in types:
        f.fail(f.line("extends"), f"unknown rule type '{ext}' (known: {', '.join(sorted(types))}){did_you_mean(ext, list(types))}")
    else:
        cls = types[ext]
    values: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            f.fail(first, f"keys must be text, not {describe_value(key)}")
            continue
        if key == "level" and value is False:
            value = "off"  # YAML 1.1 reads a bare `off` as false
        spec = COMMON.get(key) or (cls.options.get(key) if cls else None)
        if spec is None:
            if cls is not None:
                known = sorted(set(COMMON) | set(cls.options))
                f.fail(f.line(key), f"unknown key '{key}' for rule type '{cls.type_name}'{did_you_mean(key, known)}")
            elif key not in COMMON:
                continue  # the type is unknown: its keys cannot be judged
            continue
        checked = _check_kind(f, spec, key, value)
        if checked is not None:
            values[key] = checked
    level = values.get("level")
    if level is not None and level not in (*LEVELS, "off"):
        f.fail(f.line("level"), f"level must be one of {', '.join(LEVELS)} or off, not '{level}'")
    scope = values.get("scope")
    if scope is not None and scope not in SCOPES:
        f.fail(f.line("scope"), f"scope must be one of {', '.join(SCOPES)}, not '{scope}'")
    elif scope is not None and cls is not None and scope not in cls.allowed_scopes:
        f.fail(f.line("scope"), f"rule type '{cls.type_name}' only works with scope {' or '.join(cls.allowed_scopes)}")
    if cls is None or len(f.errors) > errors_before:
        return None
    for key, spec in cls.options.items():
        if spec.required and key not in values:
            f.fail(first, f"missing required key '{key}' for rule type '{cls.type_name}'")
    message = values.get("message")
    if message is not None and message.count("%s") > cls.max_args:
        f.fail(f.line("message"), f"message has {message.count('%s')} '%s' placeholders; rule type '{cls.type_name}' fills at most {cls.max_args}")
    if len(f.errors) > errors_before or level == "off":
        return None
    opts = {k: values.get(k, _copy(spec.default)) for k, spec in cls.options.items()}
    return _build(cls, rid, env, opts, values, lambda path: f.line(*path), f.fail)


def _copy(default: Any) -> Any:
    return list(default) if isinstance(default, list) else dict(default) if isinstance(default, dict) else default


def _build(
    cls: type[Rule],
    rid: str,
    env: BrandEnv,
    opts: dict[str, Any],
    common: dict[str, Any],
    line_of: Callable[[tuple[str | int, ...]], int | None],
    fail: Callable[[int | None, str], None],
) -> Rule | None:
    try:
        return cls(
            rid,
            level=common.get("level") or cls.default_level,
            scope=common.get("scope") or cls.default_scope,
            message=common.get("message"),
            link=common.get("link"),
            ignorecase=common.get("ignorecase", True),
            opts=opts,
            env=env,
        )
    except OptionError as e:
        fail(line_of(e.path), e.reason)
    except (ValueError, TypeError, re.error) as e:  # a type's own sanity check
        fail(line_of(()), f"invalid rule: {e}")
    return None


# ---------------------------------------------------------------- brand-wide files


def _brand_env(brand_dir: Path, base_dir: Path | None, errors: list[GuidelineError], claims: tuple[Claim, ...] | None) -> BrandEnv:
    """What the rules need from brand.yaml (review.brands), vocab/accept.txt and claims.yaml
    (review.claims); a folder without brand.yaml checks with the defaults."""
    from ..brands import BrandFileError, load_brand
    from ..claims import read_claims

    disclaimers: tuple[str, ...] = ()
    max_slots, max_share = 3, None
    domains: tuple[str, ...] = ()
    if (brand_dir / "brand.yaml").is_file():
        try:
            policy = load_brand(brand_dir)
        except BrandFileError as e:
            errors.append(GuidelineError(str(e.path), e.line, e.reason))
        else:
            disclaimers, domains = policy.disclaimers, policy.allowed_domains
            max_slots, max_share = policy.max_slots, policy.max_personalized_share
    accept: list[str] = []
    for d in (base_dir, brand_dir):
        if d is not None and (d / "vocab" / "accept.txt").is_file():
            accept += [t for t, _ in _vocab(d / "vocab" / "accept.txt", errors)]
    if claims is None and (brand_dir / "claims.yaml").is_file():
        claims, problems = read_claims(brand_dir / "claims.yaml")
        errors += problems
    return BrandEnv(brand_dir.name, disclaimers, max_slots, max_share, domains, tuple(accept), claims or ())


def _vocab(path: Path, errors: list[GuidelineError]) -> list[tuple[str, int]]:
    """Terms of a vocab file with their line numbers. '# ' starts a comment ('#1' is a term)."""
    out: list[tuple[str, int]] = []
    try:
        lines = yamlsafe.read_text(path).splitlines()  # size-capped, UTF-8
    except yamlsafe.YamlRefused as e:
        errors.append(GuidelineError(str(path), e.line, e.reason))
        return out
    for n, raw in enumerate(lines, 1):
        text = re.split(r"(?:^|\s)#(?:\s|$)", raw, maxsplit=1)[0].strip()
        if text == "#" or not text:
            continue
        try:
            compile_terms([text])
        except OptionError as e:
            errors.append(GuidelineError(str(path), n, e.reason))
            continue
        out.append((text, n))
    return out


# ---------------------------------------------------------------- the folder


def _rule_files(directory: Path | None, errors: list[GuidelineError]) -> dict[str, Path]:
    if directory is None or not (directory / "rules").is_dir():
        return {}
    found: dict[str, Path] = {}
    for p in sorted((directory / "rules").iterdir()):
        if p.suffix not in (".yaml", ".yml") or not p.is_file():
            continue
        if p.stem in found:
            errors.append(GuidelineError(str(p), None, f"two rule files named '{p.stem}' ({found[p.stem].name} and {p.name})"))
            continue
        found[p.stem] = p
    return found


def load_ruleset(brand_dir: Path, base_dir: Path | None = None, *, claims: tuple[Claim, ...] | None = None) -> Any:
    """Load, validate and compile a brand's guidelines (with the shared `_base`). Raises
    GuidelineLoadError listing every problem. `claims` replaces the folder's claims.yaml (a
    retirement staged in a transaction is checked before the file is written)."""
    from .ruleset import RuleSet

    brand_dir = Path(brand_dir)
    if base_dir is None:
        candidate = brand_dir.parent / "_base"
        base_dir = candidate if candidate.is_dir() and candidate.resolve() != brand_dir.resolve() else None
    errors: list[GuidelineError] = []
    if not brand_dir.is_dir():
        raise GuidelineLoadError([GuidelineError(str(brand_dir), None, "brand guidelines folder not found")])
    env = _brand_env(brand_dir, base_dir, errors, claims)
    brand = brand_dir.name

    # Brand rules override base rules with the same file name (a brand may switch one off with level: off).
    sources: dict[str, tuple[str, Path]] = {}
    for prefix, d in (("_base", base_dir), (brand, brand_dir)):
        for stem, path in _rule_files(d, errors).items():
            sources[stem] = (prefix, path)
        if d is not None and (d / "vocab" / "reject.txt").is_file():
            sources["reject"] = (prefix, d / "vocab" / "reject.txt")

    rules: list[Rule] = []
    for stem, (prefix, path) in sorted(sources.items()):
        rid = f"{prefix}.{stem}"
        if path.suffix == ".txt":
            rule = _vocab_rule(path, rid, env, errors)
        else:
            rule = _load_rule(_File(path, errors), rid, env)
        if rule is not None:
            rules.append(rule)

    rules += _synthesized(brand, env, rules, brand_dir, errors)
    if errors:
        raise GuidelineLoadError(errors)
    return RuleSet(rules, env.claims, brand)


def _vocab_rule(path: Path, rid: str, env: BrandEnv, errors: list[GuidelineError]) -> Rule | None:
    terms = _vocab(path, errors)
    if not terms:
        return None
    lines = [n for _, n in terms]

    def line_of(p: tuple[str | int, ...]) -> int | None:
        return lines[p[1]] if len(p) > 1 and isinstance(p[1], int) and p[1] < len(lines) else None

    return _build(
        Existence,
        rid,
        env,
        {"tokens": [t for t, _ in terms], "exceptions": []},
        {"message": "'%s' is on the brand's reject list."},
        line_of,
        lambda line, reason: errors.append(GuidelineError(str(path), line, reason)),
    )


def _synthesized(brand: str, env: BrandEnv, rules: list[Rule], brand_dir: Path, errors: list[GuidelineError]) -> list[Rule]:
    """Built-in rules that come from brand.yaml (disclaimers, personalization budget) and the templates (word limits)."""
    path = str(brand_dir / "brand.yaml")

    def fail(line: int | None, reason: str) -> None:
        errors.append(GuidelineError(path, line, reason))

    out: list[Rule] = []
    for i, text in enumerate(env.disclaimers, 1):
        r = _build(
            Required,
            f"{brand}.disclaimer-{i}",
            env,
            {"tokens": [text], "any": False},
            {"level": "error", "scope": "message", "message": 'Missing required disclaimer: "%s"'},
            lambda p: None,
            fail,
        )
        out += [r] if r else []
    have = {r.type for r in rules}
    if "budget" not in have:
        r = _build(Budget, f"{brand}.budget", env, {"max_slots": None, "max_share": None}, {}, lambda p: None, fail)
        out += [r] if r else []
    if "length" not in have:
        r = _build(Length, f"{brand}.word-limit", env, {"max_words": None}, {}, lambda p: None, fail)
        out += [r] if r else []
    return out
