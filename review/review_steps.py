"""A brand's review plan: the steps a draft passes before it is approved (brand.yaml `review:`).

```yaml
review:
  order: sequential        # or: parallel
  steps:
    - {name: medical, role: medical, count: 1}
    - {name: legal, role: legal, count: 1}
```

Each step names the review role its signers must hold (review.routing keeps who holds which)
and how many distinct signers it needs. `sequential` opens one step at a time, in the order
written; `parallel` opens every step at once. The older `approvals_required: N` is the one-step
plan `{name: review, role: reviewer, count: N}`: role `reviewer` means any reviewer.

Parsing only: brands.py calls `parse_review` and keeps the result in BrandPolicy; the routing
of signatures onto steps is review.routing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SEQUENTIAL = "sequential"
PARALLEL = "parallel"
ORDERS = (SEQUENTIAL, PARALLEL)
ANY_REVIEWER = "reviewer"  # a step with this role accepts any active reviewer
LEGACY_STEP = "review"  # the step name of `approvals_required: N` (and of approvals signed before steps)
MAX_STEPS = 8
MAX_COUNT = 5
STEP_KEYS = ("name", "role", "count")
# A review role or step name: lower-case letters, digits, '-' and '_', starting with a letter.
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class ReviewStep:
    """One step of a brand's review plan. `index` is its 0-based position in brand.yaml."""

    name: str
    role: str
    count: int
    index: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "count": self.count}


def legacy_plan(approvals_required: int) -> tuple[ReviewStep, ...]:
    """`approvals_required: N`: one step of N distinct signers, any reviewer."""
    return (ReviewStep(LEGACY_STEP, ANY_REVIEWER, approvals_required, 0),)


def name_problem(value: Any, what: str) -> str | None:
    """Why `value` is not a valid step or role name (None when it is)."""
    if not isinstance(value, str) or not NAME_RE.match(value):
        return f"{what} must be a lower-case name (letters, digits, '-' or '_', starting with a letter, at most 40 characters), not {value!r}"
    return None


def parse_review(raw: Any) -> tuple[str, tuple[ReviewStep, ...], str | None, tuple[str | int, ...]]:
    """brand.yaml's `review:` → (order, steps, None, ()); or (…, reason, key path) when wrong.

    The key path leads to the offending node (mapping keys and list indexes) so the error names
    its line."""
    if not isinstance(raw, dict):
        return SEQUENTIAL, (), "'review' must be a mapping with 'steps' (and optionally 'order')", ("review",)
    unknown = sorted(set(raw) - {"order", "steps"}, key=str)
    if unknown:
        return SEQUENTIAL, (), f"unknown review key '{unknown[0]}' (known: order, steps)", ("review", str(unknown[0]))
    order = raw.get("order", SEQUENTIAL)
    if order not in ORDERS:
        return SEQUENTIAL, (), f"'order' must be {' or '.join(ORDERS)}, not {order!r}", ("review", "order")
    items = raw.get("steps")
    if not isinstance(items, list) or not items:
        return order, (), "'steps' must be a list of steps, each {name: ..., role: ..., count: ...}", ("review", "steps")
    if len(items) > MAX_STEPS:
        return order, (), f"a review plan has at most {MAX_STEPS} steps (this one has {len(items)})", ("review", "steps")
    steps: list[ReviewStep] = []
    for i, item in enumerate(items):
        where: tuple[str | int, ...] = ("review", "steps", i)
        if not isinstance(item, dict):
            return order, (), f"step {i + 1} must be a mapping {{name: ..., role: ..., count: ...}}", where
        extra = sorted(set(item) - set(STEP_KEYS), key=str)
        if extra:
            return order, (), f"step {i + 1}: unknown key '{extra[0]}' (known: {', '.join(STEP_KEYS)})", (*where, str(extra[0]))
        name = item.get("name")
        problem = name_problem(name, f"step {i + 1}: 'name'")
        if problem:
            return order, (), problem, (*where, "name")
        role = item.get("role", name)
        problem = name_problem(role, f"step '{name}': 'role'")
        if problem:
            return order, (), problem, (*where, "role")
        count = item.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
            return order, (), f"step '{name}': 'count' must be a whole number from 1 to {MAX_COUNT}", (*where, "count")
        if any(s.name == name for s in steps):
            return order, (), f"step name '{name}' is used twice; each step needs its own name", (*where, "name")
        steps.append(ReviewStep(str(name), str(role), count, i))
    return order, tuple(steps), None, ()


def plan_summary(order: str, steps: tuple[ReviewStep, ...]) -> str:
    """'medical → legal → regulatory' or 'compliance + legal': the plan in a few words."""
    parts = [s.name if s.count == 1 else f"{s.name} ×{s.count}" for s in steps]
    return (" → " if order == SEQUENTIAL else " + ").join(parts)
