"""What a rule may look at for one draft."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass
class CheckContext:
    """One draft rendered for one sample recipient, plus the template layout it came from."""

    message: str
    subject: str = ""
    slots: dict[str, str] = field(default_factory=dict)
    slot_max_words: dict[str, int] = field(default_factory=dict)
    slot_inputs: dict[str, dict[str, str]] = field(default_factory=dict)
    recipient: dict[str, str] = field(default_factory=dict)
    fixed_segments: list[str] = field(default_factory=list)
    slot_sequence: list[str] = field(default_factory=list)
    personalized: bool = True
    # The template's few-shot examples per slot: text copied from them (a city, a number) into a
    # fill for a different recipient is a made-up fact.
    slot_examples: dict[str, list[str]] = field(default_factory=dict)
    # What each slot was asked to write (the template's instruction): a question where a statement
    # was asked for is a finding.
    slot_instructions: dict[str, str] = field(default_factory=dict)
    # The values brand.yaml declares for each enum field (policy_type: home, motor, ...): a fill
    # about another value of the field than the one it was given contradicts its input.
    field_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Each slot's approved texts (its fallback, an adapt slot's base, a choose slot's
    # alternatives): people approved these words as they are, so rules about what a model-written
    # fill must do (name its inputs) leave them alone.
    slot_approved: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The inputs each slot's fill must name (the template's `must_name`).
    slot_must_name: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The day claims' `valid_until` is compared with (None: today, UTC). A claim past it counts as
    # retired; tests and "what will expire" previews pass a date.
    today: date | None = None
