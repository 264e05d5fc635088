"""Real fills for the detector tests: the issue's bad fills and good fills for the same slots,
checked against the demo brands' real rule sets (review.checks builds the same context)."""

from __future__ import annotations

from functools import cache

from review.brands import load_brand
from review.guidelines import CheckContext, Finding, RuleSet, load_ruleset
from review.guidelines.testing import GUIDELINES

TIP = "Write one short, practical tip that helps the customer get the most from their type of insurance policy. Do not promise anything about claims."


@cache
def demo(brand: str) -> tuple[RuleSet, dict[str, tuple[str, ...]]]:
    policy = load_brand(GUIDELINES / brand)
    return load_ruleset(GUIDELINES / brand), {f.name: f.values for f in policy.fields if f.values}


def slot_findings(brand: str, fill: str, inputs: dict[str, str], instruction: str = TIP, slot: str = "tip") -> list[Finding]:
    """The demo brand's findings of the new detectors (rules named fill-*) on one slot fill."""
    rules, values = demo(brand)
    ctx = CheckContext(message=fill, slots={slot: fill}, slot_inputs={slot: inputs}, slot_instructions={slot: instruction}, field_values=values)
    return [f for f in rules.check(ctx) if f.rule.split(".", 1)[1].startswith("fill-")]


def errors(brand: str, fill: str, inputs: dict[str, str], instruction: str = TIP) -> set[str]:
    return {f.rule.split(".", 1)[1] for f in slot_findings(brand, fill, inputs, instruction) if f.level == "error"}
