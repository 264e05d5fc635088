"""Reviewer acceptance: the share of model-written slot fills a compliance reviewer would approve.

Run:  .venv/bin/python bench/acceptance.py [--split test|tune] [--n 1,4,8] [--limit K] [--mode write|adapt|choose] [--replay]
      .venv/bin/python bench/acceptance.py --build-pool [--mode adapt]   (regenerates that mode's pool)

Modes: the bench templates (bench/data/templates) declare every slot in `write` mode, the model's
free fill. `--mode adapt` and `--mode choose` put the approved base sentence (and examples that
adapt it) or the approved alternatives of bench/data/modes.json in place of each slot that has
one; the instruction, inputs, limits and fallback stay. Each mode has its own pool and labels:
pool.jsonl/labels.jsonl (write), pool_adapt.jsonl/labels_adapt.jsonl (adapt); choose needs
none (it never calls the model: its texts are approved content).

--replay takes the candidates from the mode's pool instead of calling the model: candidate i of
an item is the pooled text recorded for index i (pool_meta names the model, settings and
template state it came from), so the detectors, thresholds and selection can be re-run in
seconds. Without --replay the configured model generates them afresh.

The labeled set lives in bench/data (RUBRIC.md says how it was labeled and in which order):
items.json (brand, template, slot, inputs), pool.jsonl (every distinct cleaned candidate of
8 per item), labels.jsonl (approvable or not, with a reason category, per pooled text) and
split.json (tune/test by a hash of the item id; items, never candidates, are split).

The bench runs the pipeline as configured, through its own functions: the prompt from
review.generation.pipeline.slot_prompt, the seed from derive_seed, candidates from the
configured filler (load_filler; COUNTERSIGN_MODEL_PATH picks another model), cleaning and
best-of-N selection by select_fill with the brand's rule set as it is when this runs. A produced
text that has no label is counted and listed as unlabeled, never guessed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from review.checks import brand_rules, build_context, check_message  # noqa: E402
from review.filling import GenerationSettings, clean_output, load_filler  # noqa: E402
from review.generation.modes import adapt_drop, choose_fill  # noqa: E402
from review.generation.pipeline import CampaignContext, baseline, derive_seed, select_fill, slot_prompt  # noqa: E402
from review.models import Brand, Campaign, Recipient, Variant  # noqa: E402
from review.slot_modes import Alternative  # noqa: E402
from review.templates import parse_template  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
POOL_N = 8
MODES = ("write", "adapt", "choose", "mixed")
POOLS = {"write": ("pool.jsonl", "labels.jsonl", "pool_meta.json"), "adapt": ("pool_adapt.jsonl", "labels_adapt.jsonl", "pool_adapt_meta.json")}
DEFAULT_TEMPERATURE = GenerationSettings().temperature


def pool_files(mode: str, temperature: float = DEFAULT_TEMPERATURE) -> tuple[str, str, str]:
    """(pool, labels, meta) file names of a mode's pool; a pool sampled at another temperature
    than the pipeline's default has its own files (pool_adapt_t0.4.jsonl ...)."""
    names = POOLS["adapt" if mode == "mixed" else mode]
    if temperature == DEFAULT_TEMPERATURE:
        return names
    tag = f"_t{temperature:g}"
    return names[0].replace(".jsonl", f"{tag}.jsonl"), names[1].replace(".jsonl", f"{tag}.jsonl"), names[2].replace(".json", f"{tag}.json")


# Recipient fields a message body may use beyond the slot's own inputs (the item's inputs win).
BASE_ROW = {
    "first_name": "Maria",
    "last_name": "Smith",
    "email": "maria@example.com",
    "city": "Bristol",
    "policy_type": "home",
    "tenure_years": "4",
    "account_type": "current",
    "preferred_channel": "email",
    "age_band": "35-54",
    "therapy_area_interest": "asthma",
}


@dataclass(frozen=True)
class Item:
    brand: str
    template: str
    slot: str
    inputs: dict[str, str]

    @property
    def id(self) -> str:
        return item_id(self.brand, self.template, self.slot, self.inputs)


def item_id(brand: str, template: str, slot: str, inputs: dict[str, str]) -> str:
    return f"{brand}/{template}/{slot}/" + ",".join(f"{k}={inputs[k]}" for k in sorted(inputs))


def split_of(iid: str) -> str:
    """tune or test, by a hash of the item id: stable across runs, machines and item order."""
    return "test" if int(hashlib.sha256(iid.encode()).hexdigest()[:8], 16) % 2 else "tune"


def load_items(path: Path = DATA / "items.json") -> list[Item]:
    return [Item(d["brand"], d["template"], d["slot"], {k: str(v) for k, v in d["inputs"].items()}) for d in json.loads(path.read_text())]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_labels(path: Path = DATA / "labels.jsonl") -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["item"], d["text"]): d for d in read_jsonl(path)}


def all_labels() -> dict[tuple[str, str], dict[str, Any]]:
    """Every mode's labels in one map (a text is judged for its item, whichever mode wrote it);
    the same text labeled two ways is an error, not a silent pick."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    names = sorted(p.name for p in DATA.glob("labels*.jsonl"))
    for name in names:
        for key, d in load_labels(DATA / name).items():
            if key in out and out[key]["approvable"] != d["approvable"]:
                raise SystemExit(f"{name}: {key} is labeled approvable={d['approvable']} here and {out[key]['approvable']} elsewhere")
            out.setdefault(key, d)
    return out


def load_modes(path: Path = DATA / "modes.json") -> dict[str, dict[str, Any]]:
    return {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items() if not k.startswith("_")}


def slot_key(item: Item) -> str:
    return f"{item.brand}/{item.template}/{item.slot}"


def template_path(brand: str, name: str) -> Path:
    for base in (DATA / "templates", ROOT / "templates"):
        if (p := base / brand / f"{name}.j2").exists():
            return p
    raise SystemExit(f"no template {brand}/{name}.j2 under bench/data/templates or templates/")


class _OneRecipient:
    """select_fill and baseline read the variant's sample recipient with session.get; the bench
    has no database, so this stands in for the session and returns the item's recipient."""

    def __init__(self, recipient: Recipient) -> None:
        self.recipient = recipient

    def get(self, _model: type, _ident: object) -> Recipient:
        return self.recipient


class Pipeline:
    """The pipeline's own steps for one bench item at a time (no database, no job), with every
    slot in `mode` where bench/data/modes.json gives that mode's approved texts."""

    def __init__(self, mode: str = "write") -> None:
        self.mode = mode
        self.modes = load_modes()
        self._ctx: dict[tuple[str, str], CampaignContext] = {}

    def in_mode(self, item: Item) -> bool:
        """Does this item's slot run in the bench's mode (else it stays a write slot)?"""
        return self.mode in ("write", "mixed") or self.mode in self.modes.get(slot_key(item), {})

    def slot_mode(self, decl: dict[str, Any]) -> str:
        """mixed: each slot in the most restrained mode it has approved texts for (choose, then
        adapt), as a brand would write the template for production; otherwise the bench's mode."""
        if self.mode != "mixed":
            return self.mode
        return next((m for m in ("choose", "adapt") if m in decl), "write")

    def context(self, item: Item) -> CampaignContext:
        key = (item.brand, item.template)
        if key not in self._ctx:
            _, policy = brand_rules(item.brand)
            path = template_path(item.brand, item.template)
            spec = parse_template(path.read_text(encoding="utf-8"), policy, name=path.name)
            slots = dict(spec.slots)
            for name, slot in spec.slots.items():
                decl = self.modes.get(f"{item.brand}/{item.template}/{name}", {})
                slot = slots[name] = replace(slot, must_name=tuple(decl.get("must_name", ())))
                mode = self.slot_mode(decl)
                over = decl.get(mode)
                if over and mode == "adapt":
                    slots[name] = replace(slot, mode="adapt", base=over["base"], examples=tuple(over["examples"]))
                elif over and mode == "choose":
                    alts = tuple(Alternative(a["text"], tuple((f, (str(v),)) for f, v in a.get("when", {}).items())) for a in over["alternatives"])
                    slots[name] = replace(slot, mode="choose", alternatives=alts)
            spec = replace(spec, slots=slots)
            self._ctx[key] = CampaignContext(Campaign(name="bench"), spec, spec.content_hash, Brand(slug=item.brand), policy)
        return self._ctx[key]

    def objects(self, item: Item) -> tuple[Variant, _OneRecipient]:
        policy = self.context(item).policy
        row = {**BASE_ROW, **item.inputs}
        shown = {k: v for k, v in row.items() if k not in policy.sensitive_fields}
        variant = Variant(id=1, campaign_id=0, key=item.id, inputs=shown, personalized=True, sample_recipient_id=1)
        return variant, _OneRecipient(Recipient(id=1, audience_id=0, external_id="1", data=row, consent=True))

    def request(self, item: Item) -> tuple[Any, int]:
        ctx = self.context(item)
        slot = ctx.spec.slots[item.slot]
        inputs, prompt = slot_prompt(ctx, slot, self.objects(item)[0])
        return prompt, derive_seed(ctx.template_hash, slot.name, inputs)

    def cleaned(self, item: Item, raw: Iterable[str]) -> list[str]:
        return [clean_output(c, self.context(item).spec.slots[item.slot].max_words) for c in raw]

    def select(self, item: Item, raw: list[str]) -> tuple[str, dict[str, Any]]:
        ctx = self.context(item)
        variant, session = self.objects(item)
        slot = ctx.spec.slots[item.slot]
        if slot.mode == "choose":  # the pipeline's own choice (fill_requests): no candidates
            return choose_fill(slot, slot_prompt(ctx, slot, variant)[0])
        base = baseline(session, ctx, variant)  # type: ignore[arg-type]  # stands in for a Session
        return select_fill(session, ctx, variant, ctx.spec.slots[item.slot], raw, base)  # type: ignore[arg-type]  # idem

    def dropping_rules(self, item: Item, text: str) -> list[str]:
        """The rules whose error-level findings disqualify this candidate (as select_fill judges
        it: an adapt slot's meaning/new-fact check, then own-slot findings plus message-level ones
        the all-fallback message lacks)."""
        ctx = self.context(item)
        variant, session = self.objects(item)
        slot = ctx.spec.slots[item.slot]
        rules, policy = brand_rules(item.brand)
        inputs = {k: str(variant.inputs.get(k, "")) for k in slot.inputs}
        if slot.mode == "adapt" and (problem := adapt_drop(slot, text, inputs, floor=policy.adapt_min_similarity)):
            return [problem[0]]
        base = baseline(session, ctx, variant)  # type: ignore[arg-type]  # stands in for a Session
        fallbacks = {k: s.fallback for k, s in ctx.spec.slots.items()}
        found = check_message(rules, policy, ctx.spec, build_context(ctx.spec, policy, {**fallbacks, item.slot: text}, variant, session.recipient))
        own = [f for f in found if f.slot == item.slot or (f.slot is None and (f.rule, f.match) not in base)]
        return sorted({f.rule for f in own if str(getattr(f.level, "value", f.level)).lower() == "error"})


def generate(filler: Any, pipe: Pipeline, items: list[Item], n: int, settings: GenerationSettings) -> list[list[str]]:
    reqs = [pipe.request(it) for it in items]
    if any(p is None for p, _ in reqs):  # choose slots never reach the model
        asked = [i for i, (p, _) in enumerate(reqs) if p is not None]
        got = generate(filler, pipe, [items[i] for i in asked], n, settings) if asked else []
        out: list[list[str]] = [[] for _ in items]
        for i, cands in zip(asked, got, strict=True):
            out[i] = cands
        return out
    return filler.generate([p for p, _ in reqs], seeds=[s for _, s in reqs], settings=replace(settings, n_candidates=n))


class Replay:
    """Stands in for the filler: candidate i of an item is the pooled text recorded for index i
    ("" where cleaning left nothing). Candidates never depend on N, so any N <= POOL_N replays."""

    def __init__(self, mode: str, temperature: float = DEFAULT_TEMPERATURE) -> None:
        pool_name, _, meta_name = pool_files(mode, temperature)
        if not (DATA / pool_name).exists():
            raise SystemExit(f"no {pool_name}: build it first with --build-pool --mode {mode}")
        self.meta = json.loads((DATA / meta_name).read_text())
        self.model_name = f"replay of {pool_name} ({self.meta['model']})"
        self.fingerprint = self.meta["fingerprint"]
        self.by_item: dict[str, dict[int, str]] = {}
        for r in read_jsonl(DATA / pool_name):
            for i in r["candidates"]:
                self.by_item.setdefault(r["item"], {})[i] = r["text"]

    def candidates(self, items: list[Item], n: int) -> list[list[str]]:
        if n > self.meta["n"]:
            raise SystemExit(f"the pool holds {self.meta['n']} candidates per item; --replay cannot give N={n}")
        return [[self.by_item.get(it.id, {}).get(i, "") for i in range(n)] for it in items]


def build_pool(filler: Any, pipe: Pipeline, items: list[Item], settings: GenerationSettings) -> None:
    """Every distinct cleaned text of POOL_N candidates per item, and the stored split."""
    t0 = time.perf_counter()
    raw = generate(filler, pipe, items, POOL_N, settings)
    print(f"generated {POOL_N} x {len(items)} in {time.perf_counter() - t0:.0f}s")
    # Candidate i must not depend on N: N=1 and N=4 are prefixes of N=8.
    few = items[:3]
    for n in (1, 4):
        got = generate(filler, pipe, few, n, settings)
        same = all(g == r[:n] for g, r in zip(got, raw, strict=False))
        print(f"prefix check N={n} on {len(few)} items: {'ok' if same else 'MISMATCH'}")
        if not same:
            raise SystemExit("candidates depend on N; the N-curve would not compare like with like")
    rows = []
    pool_name, _, meta_name = pool_files(pipe.mode, settings.temperature)
    for it, cands in zip(items, raw, strict=True):
        seen: dict[str, list[int]] = {}
        for i, text in enumerate(pipe.cleaned(it, cands)):
            if text:
                seen.setdefault(text, []).append(i)
        rows += [{"item": it.id, "split": split_of(it.id), "text": t, "candidates": idx} for t, idx in seen.items()]
    (DATA / pool_name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (DATA / "split.json").write_text(json.dumps({it.id: split_of(it.id) for it in items}, indent=1, ensure_ascii=False) + "\n")
    meta = {"model": filler.model_name, "fingerprint": filler.fingerprint, "settings": settings.to_dict(), "n": POOL_N, "mode": pipe.mode}
    (DATA / meta_name).write_text(json.dumps(meta, indent=1) + "\n")
    print(f"pool: {len(rows)} distinct cleaned texts over {len(items)} items")


class NoModel:
    """`--mode choose`: no slot reaches the model, so none is loaded."""

    model_name = "none (choose slots never call the model)"
    fingerprint = "-" * 12

    def candidates(self, items: list[Item], n: int) -> list[list[str]]:
        return [[] for _ in items]


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def metrics(results: list[dict[str, Any]], labels: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """Pure arithmetic over bench results (one per item: source, text, candidates, dropped).

    acceptance = approvable / labeled, over the fills the model wrote (fallbacks excluded);
    fallback rate = fills that fell back (the human-written fallback, or an adapt slot's approved
    base, including a candidate that gave the approved words back unchanged) / all fills; a
    choose slot's approved alternative is neither model-written nor a fallback (counted as
    `approved_text`);
    a rule's precision = of the labeled candidates it dropped, the share a reviewer rejects;
    its recall = of the labeled candidates a reviewer rejects, the share it dropped.
    """
    model = [r for r in results if r["source"] == "model"]
    labeled = [r for r in model if (r["item"], r["text"]) in labels]
    unlabeled = sorted({(r["item"], r["text"]) for r in model if (r["item"], r["text"]) not in labels})
    approved = sum(1 for r in labeled if labels[(r["item"], r["text"])]["approvable"])
    cands: dict[tuple[str, str], list[str]] = {}
    for r in results:
        for text in r["candidates"]:
            if text and (r["item"], text) in labels:
                cands[(r["item"], text)] = r["dropped"].get(text, [])
    bad = {k for k in cands if not labels[k]["approvable"]}
    rules = sorted({rule for v in cands.values() for rule in v})
    per_rule = {}
    for rule in [*rules, "(any rule)"]:
        hit = {k for k, v in cands.items() if (v if rule == "(any rule)" else rule in v)}
        per_rule[rule] = {"dropped": len(hit), "tp": len(hit & bad), "precision": _ratio(len(hit & bad), len(hit)), "recall": _ratio(len(hit & bad), len(bad))}
    fell = sum(1 for r in results if r["source"] in ("fallback", "base"))
    return {
        "fills": len(results),
        "model": len(model),
        "fell_back": fell,
        "approved_text": sum(1 for r in results if r["source"] == "alternative"),
        "fallback_rate": _ratio(fell, len(results)),
        "labeled": len(labeled),
        "approved": approved,
        "acceptance": _ratio(approved, len(labeled)),
        "unlabeled": unlabeled,
        "candidates_labeled": len(cands),
        "candidates_bad": len(bad),
        "rules": per_rule,
        "rejected_reasons": Counter(labels[(r["item"], r["text"])]["reason"] for r in labeled if not labels[(r["item"], r["text"])]["approvable"]),
    }


def run(filler: Any, pipe: Pipeline, items: list[Item], n: int, settings: GenerationSettings) -> tuple[list[dict[str, Any]], float, float]:
    """Generate (or replay) and select for every item; returns results, wall seconds and CPU
    seconds (the process's, all threads: steadier than wall time on a shared machine)."""
    t0, c0 = time.perf_counter(), time.process_time()
    raw = filler.candidates(items, n) if hasattr(filler, "candidates") else generate(filler, pipe, items, n, settings)  # Replay, NoModel
    results = []
    for it, cands in zip(items, raw, strict=True):
        text, meta = pipe.select(it, cands)
        source = meta.get("source")
        if source == "model" and text.strip() in pipe.context(it).spec.slots[it.slot].approved_wording():
            source = "base"  # the model gave back approved words unchanged: no personalization happened
        results.append({"item": it.id, "source": source, "text": text, "raw": cands})
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    for r, it in zip(results, items, strict=True):  # outside the timing: the bench's own bookkeeping
        r["candidates"] = list(dict.fromkeys(t for t in pipe.cleaned(it, r.pop("raw")) if t))
        r["dropped"] = {t: pipe.dropping_rules(it, t) for t in r["candidates"]}
    return results, secs, cpu


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def report(n: int, m: dict[str, Any], secs: float, cpu: float, items: list[Item], slots_per_variant: float) -> None:
    per_fill, cpu_fill = secs / max(len(items), 1), cpu / max(len(items), 1)
    print(
        f"N={n}: acceptance {_pct(m['acceptance'])} ({m['approved']}/{m['labeled']} labeled model fills), "
        f"fallback {_pct(m['fallback_rate'])} ({m['fell_back']}/{m['fills']}), approved alternatives {m['approved_text']}, unlabeled {len(m['unlabeled'])}; "
        f"{per_fill:.2f}s wall ({cpu_fill:.2f}s CPU) per slot fill, ~{per_fill * slots_per_variant:.2f}s wall "
        f"({cpu_fill * slots_per_variant:.2f}s CPU) per variant of {slots_per_variant:.1f} slots"
    )
    for rule, v in m["rules"].items():
        print(
            f"    {rule}: dropped {v['dropped']} of {m['candidates_labeled']} labeled candidates; "
            f"precision {_pct(v['precision'])}, recall {_pct(v['recall'])} (of {m['candidates_bad']} a reviewer rejects)"
        )
    if m["rejected_reasons"]:
        print("    chosen fills a reviewer rejects, by reason: " + ", ".join(f"{k} {c}" for k, c in m["rejected_reasons"].most_common()))
    for iid, text in m["unlabeled"]:
        print(f"    UNLABELED {iid}: {text!r}")


def main(argv: list[str] | None = None) -> dict[int, dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=["test", "tune"], default="test")
    ap.add_argument("--n", default="1,4,8", help="candidate counts for the curve, comma-separated (default 1,4,8)")
    ap.add_argument("--limit", type=int, default=0, help="only the first K items of the split (0: all)")
    ap.add_argument("--mode", choices=MODES, default="write", help="every slot in this mode where bench/data/modes.json has its approved texts")
    ap.add_argument("--replay", action="store_true", help="take candidates from the mode's pool, not the model (fast: re-runs detectors and selection)")
    ap.add_argument("--build-pool", action="store_true", help="regenerate the mode's pool and split.json (then label before running the bench)")
    ap.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE, help="sampling temperature (a pool per temperature)")
    args = ap.parse_args(argv)
    try:
        ns = [int(x) for x in args.n.split(",") if x.strip()]
        if not ns or min(ns) < 1:
            raise ValueError
    except ValueError:
        raise SystemExit(f"--n must be positive integers separated by commas, got {args.n!r}") from None
    items = load_items()
    pipe = Pipeline(args.mode)
    settings = GenerationSettings(temperature=args.temperature)
    if args.build_pool:
        if args.mode not in POOLS:
            raise SystemExit(f"--mode {args.mode} never calls the model: it has no pool")
        build_pool(load_filler(), pipe, [it for it in items if pipe.in_mode(it)], settings)
        return {}
    items = [it for it in items if split_of(it.id) == args.split and pipe.in_mode(it)][: args.limit or None]
    if args.mode == "mixed" and not args.replay:  # before any model is loaded
        raise SystemExit("--mode mixed replays the adapt pool: add --replay (or run --mode adapt and --mode choose)")
    filler: Any = NoModel() if args.mode == "choose" else Replay(args.mode, args.temperature) if args.replay else load_filler()
    labels = all_labels()
    brands = sorted({it.brand for it in items})
    ruleset = {b: sorted(r.id for r in brand_rules(b)[0].rules) for b in brands}
    templates = sorted({(it.brand, it.template) for it in items})
    slots_per_variant = sum(len(pipe.context(Item(b, t, "", {})).spec.slots) for b, t in templates) / max(len(templates), 1)
    print(f"mode {args.mode}; model {filler.model_name} ({filler.fingerprint[:12]}); settings {settings.to_dict()}")
    for b in brands:
        print(f"rules for {b} ({len(ruleset[b])}): {', '.join(ruleset[b])}")
    print(f"split {args.split}: {len(items)} items, {len(templates)} templates, {len(labels)} labels")
    out = {}
    for n in ns:
        results, secs, cpu = run(filler, pipe, items, n, settings)
        out[n] = metrics(results, labels)
        report(n, out[n], secs, cpu, items, slots_per_variant)
    return out


if __name__ == "__main__":
    main()
