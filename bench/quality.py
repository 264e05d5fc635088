"""Slot-fill quality on the demo templates: best-of-N first-pass rate vs a single greedy sample.

Run:  .venv/bin/python bench/quality.py [--recipients 24] [--dtype float32] [--show 4]

Candidates are judged exactly as review.generation.select_fill judges them: the brand's real
rule set (review.checks.brand_rules, _base rules included, so grounding/leak/length take part)
over the context review.checks.build_context builds for the full message with the other slots
at their fallbacks; a candidate's own-slot findings plus the message-level findings the
all-fallback message does not have count against it.

"First pass" = at least one cleaned candidate has no error-level finding and score_candidate
accepts it; otherwise the slot falls back to approved copy.
"""

from __future__ import annotations

import argparse
import collections
import csv
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from review.checks import brand_rules, build_context  # noqa: E402
from review.demo import demo_audience_csv  # noqa: E402
from review.filling import GenerationSettings, TransformersFiller, build_prompt, choose_best, clean_output, score_candidate  # noqa: E402
from review.models import Recipient, Variant  # noqa: E402
from review.templates import parse_template  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BRAND = "harbor-mutual"


class Judge:
    """One template's candidate checker for one recipient at a time (mirrors select_fill)."""

    def __init__(self, spec, policy, rules):  # type: ignore[no-untyped-def]
        self.spec, self.policy, self.rules = spec, policy, rules
        self.fallbacks = {k: s.fallback for k, s in spec.slots.items()}
        self._baseline: dict[int, set[tuple[str, str]]] = {}

    def objects(self, i: int, row: dict[str, str]) -> tuple[Variant, Recipient]:
        shown = {k: v for k, v in row.items() if k not in self.policy.sensitive_fields}
        variant = Variant(campaign_id=0, key=f"r{i}", inputs=shown, personalized=True, sample_recipient_id=i)
        return variant, Recipient(id=i, audience_id=0, external_id=str(i), data=dict(row), consent=True)

    def findings(self, i: int, row: dict[str, str], slot, text: str) -> list[dict]:  # type: ignore[no-untyped-def]
        variant, recipient = self.objects(i, row)
        if i not in self._baseline:
            ctx = build_context(self.spec, self.policy, dict(self.fallbacks), variant, recipient)
            self._baseline[i] = {(f.rule, f.match) for f in self.rules.check(ctx) if f.slot is None}
        ctx = build_context(self.spec, self.policy, {**self.fallbacks, slot.name: text}, variant, recipient)
        return [f.to_dict() for f in self.rules.check(ctx) if f.slot == slot.name or (f.slot is None and (f.rule, f.match) not in self._baseline[i])]

    def score(self, i: int, row: dict[str, str], slot, text: str) -> tuple[float | None, list[dict]]:  # type: ignore[no-untyped-def]
        if not text:
            return None, []
        found = self.findings(i, row, slot, text)
        return score_candidate(text, found, slot), found


def _why(found: list[dict]) -> str:
    errs = [f"{f['rule'].split('.')[-1]}: {f['message']}" for f in found if f.get("level") == "error"]
    return "; ".join(errs[:2]) or "score rejected"


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipients", type=int, default=24)
    ap.add_argument("--dtype", default=None)
    ap.add_argument("--show", type=int, default=4, help="print this many fills per slot (chosen or fallback, with why)")
    args = ap.parse_args(argv)
    rules, policy = brand_rules(BRAND)
    rows = list(csv.DictReader(io.StringIO(demo_audience_csv())))[: args.recipients]
    filler = TransformersFiller(dtype=args.dtype)
    settings = GenerationSettings()
    print(
        f"model {filler.model_name} dtype {filler.dtype}; brand {BRAND} ({len(rules.rules)} rules); "
        f"{len(rows)} recipients; best-of-{settings.n_candidates} vs greedy"
    )
    totals = {"best": 0, "greedy": 0, "n": 0, "cands": 0, "cands_ok": 0}
    rejected: collections.Counter[str] = collections.Counter()
    for path in sorted((ROOT / "templates" / BRAND).glob("*.j2")):
        spec = parse_template(path.read_text(), policy, name=path.name)
        judge = Judge(spec, policy, rules)
        for slot in spec.slots.values():
            prompts = [build_prompt(slot, row, policy.voice, sensitive_fields=policy.sensitive_fields) for row in rows]
            seeds = list(range(len(rows)))
            t0 = time.perf_counter()
            sampled = filler.generate(prompts, seeds=seeds, settings=settings)
            greedy = filler.generate(prompts, seeds=seeds, settings=settings, greedy=True)
            secs = time.perf_counter() - t0
            ok_best = ok_greedy = shown = 0
            for i, (row, cands, g) in enumerate(zip(rows, sampled, greedy, strict=True)):
                cleaned = [clean_output(c, slot.max_words) for c in cands]
                judged = [judge.score(i, row, slot, c) for c in cleaned]
                totals["cands"] += len(cleaned)
                totals["cands_ok"] += sum(s is not None for s, _ in judged)
                for c, (s, found) in zip(cleaned, judged, strict=True):
                    if s is None:
                        rejected.update({f["rule"] for f in found if f.get("level") == "error"} or {"(empty/score)" if not c else "(score)"})
                best = choose_best(cleaned, [s for s, _ in judged])
                ok_best += best is not None
                gc = clean_output(g[0], slot.max_words)
                ok_greedy += judge.score(i, row, slot, gc)[0] is not None
                if shown < args.show:
                    data = {f: row.get(f, "") for f in slot.inputs}
                    if best is not None:
                        print(f"   [{slot.name}] {data} -> {cleaned[best]!r}")
                    else:
                        worst = next((c for c, (_, f) in zip(cleaned, judged, strict=True) if c), "")
                        why = _why(next((f for c, (_, f) in zip(cleaned, judged, strict=True) if c), []))
                        print(f"   [{slot.name}] {data} -> FALLBACK {slot.fallback!r} (e.g. rejected {worst!r}: {why})")
                    shown += 1
            n = len(rows)
            totals["best"] += ok_best
            totals["greedy"] += ok_greedy
            totals["n"] += n
            print(f"{path.stem}/{slot.name}: best-of-N first pass {ok_best / n:.0%} (fallback {1 - ok_best / n:.0%}); greedy {ok_greedy / n:.0%}; {secs:.1f}s")
    n = totals["n"]
    best, greedy = totals["best"] / n, totals["greedy"] / n
    print(f"candidates qualifying {totals['cands_ok'] / max(totals['cands'], 1):.1%} of {totals['cands']}")
    print("candidates rejected, by rule: " + ", ".join(f"{r} {c}" for r, c in rejected.most_common()))
    print(
        f"OVERALL slot fills {n}: best-of-N first pass {best:.1%}, fallback {1 - best:.1%}; greedy baseline first pass {greedy:.1%} (fallback {1 - greedy:.1%})"
    )
    return {"best": best, "greedy": greedy}


if __name__ == "__main__":
    main()
