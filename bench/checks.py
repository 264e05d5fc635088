"""Benchmark: a 100-rule brand over 10,000 drafts, against a one-regex floor.

Run: .venv/bin/python bench/checks.py [--drafts N] [--seed S] [--rounds R] [--unique]

The floor is one pass of a single compiled regex holding every rule's terms over the same texts
(message, subject, each slot): the least any term-matching engine must do. Both are timed in this
process on one core. --unique gives every slot text five extra words, as generated copy differs:
the realistic case, and the one a speed-up must pay on (at least 20%) to stay in the engine.
There is no throughput target: generation makes ~15 variants/s, far fewer than checks can take.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from review.guidelines import CheckContext, RuleSet, load_ruleset  # noqa: E402
from review.guidelines.terms import TermSet, _units, trie_pattern  # noqa: E402

ADJ = ["bold", "quick", "smart", "prime", "bright", "total", "ultra", "mega", "super", "hyper", "rapid", "instant", "secure", "solid", "clear", "true"]
NOUN = ["savings", "deal", "offer", "cover", "plan", "bonus", "reward", "value", "saver", "boost", "return", "growth", "shield", "promise", "choice"]
FIRST = ["Maria", "Sam", "Ana", "Tom", "Priya", "Lee", "Omar", "Zoe", "Ken", "Ava", "Luis", "Mia", "Raj", "Ivy", "Noah"]
CITIES = ["Leeds", "York", "Bristol", "Cardiff", "Glasgow", "Belfast", "Norwich", "Exeter", "Bath", "Derby"]
FILLER = [
    "Thanks for being with us for {n} years, {first}.",
    "We hope the last year in {city} has treated you well.",
    "Your policy renews next month and nothing changes unless you ask.",
    "If anything has changed at home, tell us and we will update your cover.",
    "You can manage everything in the app or call our team.",
    "Here is a short reminder of what your plan includes.",
    "Many customers in {city} add travel cover before the summer.",
    "We are here to help whenever you need us.",
]
BAD = [
    "This is a risk-free choice!!",
    "Our b3st plan ever.",
    "Get a guaranteed payout today.",
    "We noticed you were looking at new cars.",
    "Call 07700 900123 for details.",
    "It is the ultra deal of the year.",
]
FIXED = [
    ["Dear customer,\n\n", "\n\nYour renewal documents are attached. Please read them carefully.\n\n", "\n\nKind regards,\nThe Team\n\n{disc}"],
    ["Hello,\n", "\nWe are writing about your account.\n", "\n", "\n{disc}"],
]
WORDS = sorted({w.strip(".,").lower() for f in FILLER for w in f.split() if w.strip(".,").isalpha()})
DISCLAIMER = "Acme Insurance Ltd is authorised and regulated by the Financial Conduct Authority."


def write_brand(root: Path) -> Path:
    """A brand with exactly 100 rule files mixing the types (plus vocab and claims)."""
    d = root / "bench-brand"
    (d / "rules").mkdir(parents=True)
    (d / "vocab").mkdir()
    rnd = random.Random(1)
    pairs = [f"{a} {n}" for a in ADJ for n in NOUN]
    rnd.shuffle(pairs)
    rules: list[str] = []
    for i in range(45):  # existence: 4 terms each
        terms = pairs[i * 4 : i * 4 + 4]
        rules.append("extends: existence\nlevel: error\ntokens:\n" + "".join(f"  - {t}\n" for t in terms))
    for i in range(20):  # substitution: 3 swaps each
        terms = pairs[180 + i * 3 : 180 + i * 3 + 3]
        rules.append("extends: substitution\nscope: slot\nswap:\n" + "".join(f"  {t}: plain {t.split()[1]}\n" for t in terms))
    rules += ["extends: existence\ntokens: [risk-free, guaranteed payout]\n"] * 2
    rules += ["extends: sensitive\nscope: slot\n", "extends: sensitive\ncategories: [creepy]\nlevel: warning\nscope: slot\n"] * 3
    rules += ["extends: claims\n"] * 3
    rules += ["extends: pii\nscope: slot\n"] * 3
    rules += ["extends: conditional\nwhen: ['/\\d+(\\.\\d+)?\\s?%/']\nrequire: [Representative APR]\n"] * 3
    rules += ["extends: conditional\nwhen: [bonus reward]\nrequire: [Terms apply]\n"] * 2
    rules += ["extends: occurrence\ntoken: '!'\nmax: 1\n"] * 3
    rules += ["extends: occurrence\ntoken: '\\w+'\nper: sentence\nmax: 35\n"]
    rules += ["extends: capitalization\nnames: [Acme Insurance]\n", "extends: capitalization\nshouting: true\n"] * 2
    rules += ["extends: required\ntokens: [Kind regards]\nscope: message\n"]
    rules += ["extends: readability\ngrade: 10\n"]
    rules += ["extends: leak\n", "extends: fixed\n", "extends: budget\n", "extends: length\n"]
    rules += ["extends: existence\nscope: subject\ntokens: [free, urgent, last chance]\n"] * (100 - len(rules))
    assert len(rules) == 100, len(rules)
    for i, text in enumerate(rules):
        (d / "rules" / f"r{i:03d}.yaml").write_text(text, encoding="utf-8")
    (d / "brand.yaml").write_text(
        f'name: Acme\ndisclaimers: ["{DISCLAIMER}"]\nallowed_domains: [acme.example]\npersonalization:\n  max_slots: 3\n  max_personalized_share: 0.6\n'
    )
    (d / "vocab" / "reject.txt").write_text("no questions asked\ninstant payout\n")
    (d / "claims.yaml").write_text('- id: C1\n  wording: "Rated 4.8 out of 5 by our customers"\n  reference: "Survey 2025"\n  status: active\n')
    return d


def make_drafts(n: int, seed: int, unique: bool = False) -> list[CheckContext]:
    """Drafts from two layouts and a small sentence bank, so slot texts recur (as fallbacks and
    shared variants do). unique=True appends five words in a random order to every slot text, as
    generated copy would differ: no slot text or line recurs (words still do, as in real copy)."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        first, city = rnd.choice(FIRST), rnd.choice(CITIES)
        layout = rnd.choice(FIXED)
        fixed = [seg.replace("{disc}", DISCLAIMER) for seg in layout]
        names = ["greeting", "body", "tip"][: len(fixed) - 1]
        slots = {}
        for name in names:
            sentences = [rnd.choice(FILLER) for _ in range(rnd.randint(1, 2))]
            if rnd.random() < 0.1:
                sentences.append(rnd.choice(BAD))
            slots[name] = " ".join(s.format(n=rnd.randint(1, 20), first=first, city=city) for s in sentences)
            if unique:  # five everyday words in a random order: the words recur, the text does not
                slots[name] += " " + " ".join(rnd.choice(WORDS) for _ in range(5)).capitalize() + "."
        message = fixed[0] + "".join(slots[s] + fixed[i + 1] for i, s in enumerate(names))
        recipient = {
            "first_name": first,
            "city": city,
            "tenure_years": str(rnd.randint(1, 20)),
            "health_condition": "asthma",
            "email": f"{first.lower()}@mail.example",
        }
        out.append(
            CheckContext(
                message=message,
                subject=rnd.choice(["Your renewal", "A note from Acme", "Your cover this year"]),
                slots=slots,
                slot_max_words={s: 40 for s in names},
                slot_inputs={s: {"first_name": first, "city": city, "tenure_years": recipient["tenure_years"]} for s in names},
                recipient=recipient,
                fixed_segments=fixed,
                slot_sequence=names,
            )
        )
    return out


def all_terms(rules: RuleSet) -> list[str]:
    """Every literal term of every compiled rule (terms, swaps, triggers, claims, lexicons)."""
    out: set[str] = set()
    for r in rules.rules:
        for ts in vars(r).values():
            if isinstance(ts, TermSet):
                out.update(t for t in ts.terms if not (t.startswith("/") and t.endswith("/")))
    return sorted(out)


def floor_regexes(terms: list[str]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The floor: one regex of all terms over lower-cased text, built the fastest way we know (a trie);
    and for reference the textbook version (a plain case-insensitive alternation)."""
    trie = re.compile(r"(?:" + trie_pattern([_units(t, True) for t in terms]) + r")(?!\w)")
    naive = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, terms), key=len, reverse=True)) + r")\b", re.IGNORECASE)
    return trie, naive


def time_floor(pattern: re.Pattern[str], drafts: list[CheckContext], lower: bool) -> tuple[float, int]:
    t0 = time.perf_counter()
    hits = 0
    for c in drafts:
        for text in (c.message, c.subject, *c.slots.values()):
            hits += len(pattern.findall(text.lower() if lower else text))
    return time.perf_counter() - t0, hits


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--drafts", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--unique", action="store_true", help="make every slot text unique (no recurring slot texts)")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds of engine and floor, in turn (best of each is reported)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        brand_dir = write_brand(Path(tmp))
        t0 = time.perf_counter()
        rules = load_ruleset(brand_dir, base_dir=None)
        load_s = time.perf_counter() - t0
    terms = all_terms(rules)
    floor, naive = floor_regexes(terms)
    drafts = make_drafts(args.drafts, args.seed, unique=args.unique)

    # Warm both up once (first-use caches), then time them in turn, several rounds: this machine's
    # speed drifts by tens of percent within a minute, so each side's best round is compared.
    for c in drafts[:50]:
        rules.check(c)
    engine_runs, floor_runs = [], []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        findings = 0
        for c in drafts:
            findings += len(rules.check(c))
        engine_runs.append(time.perf_counter() - t0)
        floor_runs.append(time_floor(floor, drafts, lower=True)[0])
    engine_s, floor_s = min(engine_runs), min(floor_runs)
    floor_hits = time_floor(floor, drafts, lower=True)[1]
    few = drafts[: max(1, len(drafts) // 10)]  # the textbook regex is ~30x slower: a tenth is plenty
    naive_s = time_floor(naive, few, lower=False)[0] * len(drafts) / len(few)

    n = len(drafts)
    types = sorted({r.type for r in rules.rules})
    print(f"rules: {len(rules.rules)} compiled (100 files + built-ins; {len(types)} types), {len(terms)} literal terms, loaded in {load_s * 1000:.0f} ms")
    slot_texts = [t for c in drafts for t in c.slots.values()]
    print(f"drafts: {n} ({len(slot_texts) / n:.1f} slots each; {len(set(slot_texts)):,} distinct slot texts of {len(slot_texts):,})")
    print(f"findings: {findings}, floor regex hits: {floor_hits}")
    print(f"engine: {engine_s:.3f} s  -> {n / engine_s:,.0f} drafts/s ({engine_s / n * 1e6:.0f} us/draft)")
    print(f"floor : {floor_s:.3f} s  -> {n / floor_s:,.0f} drafts/s (one trie regex of all terms over lower-cased texts)")
    print(f"naive : {naive_s:.3f} s  -> {n / naive_s:,.0f} drafts/s (reference: one plain IGNORECASE alternation, timed on a tenth)")
    per_round = [e / f for e, f in zip(engine_runs, floor_runs, strict=True)]
    median = statistics.median(per_round)
    print(f"rounds: engine {', '.join(f'{n / e:,.0f}' for e in engine_runs)} drafts/s; floor {', '.join(f'{n / f:,.0f}' for f in floor_runs)} drafts/s")
    print(f"ratio engine/floor: best rounds {engine_s / floor_s:.2f}x; per round {', '.join(f'{r:.2f}' for r in per_round)} (median {median:.2f}x)")


if __name__ == "__main__":
    main()
