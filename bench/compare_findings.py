"""Dump the findings the rule engine gives over a wide corpus, as canonical JSON, to diff engines.

Run: .venv/bin/python bench/compare_findings.py OUT.jsonl [--drafts N]
     diff <(before) <(after)   (or: --against BEFORE.jsonl to count differing texts)

The corpus: the golden test's cases; every demo template rendered for every row of the demo
audience (slot texts from each slot's fallback, its examples, and an example with a bad sentence
added), consent and no consent; bench/checks.py's drafts in both modes; the texts of
tests/guidelines/test_ruleset.py. Every draft goes through RuleSet.check; every text in it (and
every corpus fragment) also through check_text in each scope, with and without complete=True, and
through check_value, for each demo brand. One JSON line per (brand, call, input): the input's
digest and the findings, sorted keys, so two dumps diff line by line.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "guidelines"))

import checks as bench_checks  # noqa: E402  (bench/checks.py)
import test_golden  # noqa: E402
import test_ruleset  # noqa: E402

from review.brands import load_brand  # noqa: E402
from review.demo import demo_audience_csv  # noqa: E402
from review.guidelines import SCOPES, CheckContext, RuleSet, load_ruleset  # noqa: E402
from review.guidelines.testing import GUIDELINES  # noqa: E402
from review.templates import parse_template, render  # noqa: E402

BRANDS = ["harbor-mutual", "northbank", "vitalis-pharma"]
BAD = [*bench_checks.BAD, "We're rated 4.8 out of 5 by our customers. Call maria@example.com!", "Your DIABETES cover is the b3st, R1SK-FREE."]


def demo_drafts() -> Iterator[tuple[str, CheckContext]]:
    """Every demo template rendered for every demo audience row, as review/checks.build_context does."""
    rows = list(csv.DictReader(io.StringIO(demo_audience_csv())))
    for tdir in sorted((ROOT / "templates").iterdir()):
        policy = load_brand(GUIDELINES / tdir.name)
        for path in sorted(tdir.glob("*.j2")):
            spec = parse_template(path.read_text(encoding="utf-8"), policy, name=path.name)
            for i, row in enumerate(rows):
                shown = {k: v for k, v in row.items() if k not in policy.sensitive_fields}
                for personalized in (True, False):
                    for pick in range(4):
                        slots = {}
                        for k, s in spec.slots.items():
                            texts = [s.fallback, *s.examples]
                            text = texts[(i + pick) % len(texts)] if personalized else s.fallback
                            if pick == 3:
                                text = f"{text} {BAD[(i + len(k)) % len(BAD)]} {row.get('city', '')}"
                            slots[k] = text
                        r = render(spec, shown, slots, policy.as_render_context())
                        yield (
                            f"{tdir.name}/{path.name}/{row['id']}/{personalized}/{pick}",
                            CheckContext(
                                message=r.body,
                                subject=r.subject,
                                slots=dict(slots),
                                slot_max_words={k: s.max_words for k, s in spec.slots.items()},
                                slot_inputs={k: ({f: row.get(f, "") for f in s.inputs} if personalized else {}) for k, s in spec.slots.items()},
                                recipient=dict(row),
                                fixed_segments=list(r.fixed_segments),
                                slot_sequence=list(r.slot_sequence),
                                personalized=personalized,
                                slot_examples={k: list(s.examples) for k, s in spec.slots.items()},
                            ),
                        )


def _findings(found: list[Any]) -> list[dict[str, Any]]:
    return [f.to_dict() for f in found]


def _line(kind: str, brand: str, key: str, found: list[Any]) -> str:
    return json.dumps({"brand": brand, "call": kind, "input": key, "findings": _findings(found)}, sort_keys=True, ensure_ascii=False)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def dump(out: io.TextIOBase, n_drafts: int) -> int:
    """Write every line; return how many inputs were checked."""
    rulesets: dict[str, RuleSet] = {b: load_ruleset(GUIDELINES / b) for b in BRANDS}
    with tempfile.TemporaryDirectory() as tmp:
        rulesets["bench"] = load_ruleset(bench_checks.write_brand(Path(tmp)), base_dir=None)
    drafts: list[tuple[str, str, CheckContext]] = []
    texts: dict[str, str] = {}
    for name, brand, case in test_golden.CASES:
        if isinstance(case, CheckContext):
            drafts.append((f"golden/{name}", brand, case))
        else:
            texts[_digest(case)] = str(case)
    for key, ctx in demo_drafts():
        drafts.append((f"demo/{key}", key.split("/")[0], ctx))
    for unique in (False, True):
        for i, ctx in enumerate(bench_checks.make_drafts(n_drafts, 7, unique=unique)):
            drafts.append((f"bench/{unique}/{i}", "bench", ctx))
    for t in test_ruleset.TEXTS:
        texts[_digest(t)] = t
        texts[_digest(t.upper())] = t.upper()
    for _, _, ctx in drafts:
        for t in (ctx.message, ctx.subject, *ctx.slots.values()):
            texts[_digest(t)] = t
    count = 0
    for key, brand, ctx in drafts:
        out.write(_line("check", brand, key, rulesets[brand].check(ctx)) + "\n")
        count += 1
        if brand != "bench":  # every demo draft against the other brands too
            for other in BRANDS:
                if other != brand:
                    out.write(_line("check", other, key, rulesets[other].check(ctx)) + "\n")
                    count += 1
    for digest, text in sorted(texts.items()):
        for brand, rs in rulesets.items():
            for scope in SCOPES:
                for complete in (False, True):
                    out.write(_line(f"check_text/{scope}/{complete}", brand, digest, rs.check_text(text, scope, complete=complete)) + "\n")
                    count += 1
            out.write(_line("check_value", brand, digest, rs.check_value(text)) + "\n")
            count += 1
    return count


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--drafts", type=int, default=2000, help="bench drafts per mode")
    ap.add_argument("--against", type=Path, help="an earlier dump: report how many lines differ")
    args = ap.parse_args()
    with args.out.open("w", encoding="utf-8") as fh:
        n = dump(fh, args.drafts)
    lines = args.out.read_text(encoding="utf-8").splitlines()
    with_findings = sum(1 for ln in lines if '"findings": []' not in ln)
    print(f"{n} checks written to {args.out} ({with_findings} with findings)")
    if args.against:
        before = args.against.read_text(encoding="utf-8").splitlines()
        differ = sum(1 for a, b in zip(before, lines, strict=False) if a != b) + abs(len(before) - len(lines))
        print(f"compared with {args.against}: {len(lines)} lines vs {len(before)}, {differ} differ")
        if differ:
            sys.exit(1)


if __name__ == "__main__":
    main()
