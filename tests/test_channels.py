"""Channel limits: SMS segments (GSM-7 vs UCS-2), push title/body, email subject length — declared
per brand in brand.yaml, checked at template save, on each draft, and on every recipient's message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from review.channels import parse_channels, problems, sms_length
from review.checks import forget_stamps
from review.errors import ConfigError, TemplateError, WorkflowError
from review.models import Draft, Recipient

FIXTURES = Path(__file__).parent / "fixtures"
SMS = """---
name: Acme SMS
channel: sms
slots:
  note:
    instruction: One short line for their city.
    inputs: [city]
    max_words: 8
    examples: ["Hello to everyone in Leeds."]
    fallback: Hello from Acme.
---
Hi {{ recipient.first_name }}, {{ slots.note }} FIXED
"""


def sms(fixed: str) -> str:
    return SMS.replace("FIXED", fixed)


@pytest.mark.parametrize(
    "text, encoding, segments",
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # extension characters count twice
        ("€" * 81, "GSM-7", 2),
        ("Zoë" + "a" * 67, "UCS-2", 1),  # ë is not in the GSM alphabet: the whole SMS is UCS-2
        ("Zoë" + "a" * 68, "UCS-2", 2),
        ("🙂" * 35, "UCS-2", 1),  # an emoji is two UTF-16 units
        ("🙂" * 36, "UCS-2", 2),
    ],
)
def test_sms_length_counts_like_a_carrier(text: str, encoding: str, segments: int) -> None:
    n = sms_length(text)
    assert (n.encoding, n.segments) == (encoding, segments)


def test_defaults_and_overrides() -> None:
    limits, reason, _ = parse_channels(None)
    assert reason is None and limits["sms"]["max_segments"] == 1 and limits["email"]["subject_max_chars"] == 78
    limits, reason, _ = parse_channels({"sms": {"max_segments": 2}, "email": {"subject_max_chars": None}})
    assert reason is None and limits["sms"]["max_segments"] == 2 and limits["email"]["subject_max_chars"] is None
    assert problems("email", "x" * 500, "", limits) == []
    assert problems("sms", "", "a" * 320, limits) == ["the SMS is 3 segments (320 GSM-7 characters); the brand allows 2"]
    assert problems("push", "t" * 51, "b" * 179, parse_channels(None)[0]) == [
        "the push title is 51 characters; the brand allows 50",
        "the push body is 179 characters; the brand allows 178",
    ]


@pytest.mark.parametrize(
    "block, line, reason",
    [
        ("channels:\n  fax: {max_pages: 1}\n", 2, "unknown channel 'fax'"),
        ("channels:\n  sms:\n    max_segments: 0\n", 3, "whole number from 1 to 10000"),
        ("channels:\n  sms:\n    max_parts: 2\n", 3, "unknown sms limit 'max_parts'"),
    ],
)
def test_brand_yaml_channel_mistakes_name_file_and_line(tmp_path: Path, block: str, line: int, reason: str) -> None:
    from review.brands import load_brand

    brand = tmp_path / "acme-pharma"
    shutil.copytree(FIXTURES / "brands" / "acme-pharma", brand)
    text = (brand / "brand.yaml").read_text()
    (brand / "brand.yaml").write_text(block + text)
    with pytest.raises(ConfigError, match=rf"brand.yaml:{line}: .*{reason}"):
        load_brand(brand)


def test_an_sms_template_that_cannot_fit_is_refused_at_save(world) -> None:  # type: ignore[no-untyped-def]
    from review.template_versions import save_template

    with pytest.raises(TemplateError, match="the SMS is 2 segments"):
        save_template(world.session, world.marketer, brand_slug="acme-pharma", source=sms("Talk to your doctor. " * 8))
    world.session.rollback()
    assert save_template(world.session, world.marketer, brand_slug="acme-pharma", source=sms("Talk to your doctor before changing any treatment."))


@pytest.fixture
def sms_campaign(world, fake_filler):  # type: ignore[no-untyped-def]
    """An SMS campaign whose fixed copy leaves ~40 characters for the name and the slot."""
    from review.campaigns import create_campaign
    from review.generation import generate_campaign
    from review.template_versions import save_template

    s = world.session
    fixed = "Talk to your doctor before changing any treatment. Reply STOP to opt out of these texts from Acme pharmacy today."
    tv = save_template(s, world.marketer, brand_slug="acme-pharma", source=sms(fixed))
    camp = create_campaign(s, world.marketer, name="sms", template_version_id=tv.id, audience_id=world.audience_id)  # type: ignore[arg-type]
    s.commit()
    generate_campaign(world.engine, world.marketer, camp.id, fake_filler)  # type: ignore[arg-type]
    s.expire_all()
    return world, camp.id


def test_a_draft_too_long_for_its_channel_is_an_error(sms_campaign) -> None:  # type: ignore[no-untyped-def]
    from review.workflow import edit_draft, submit_for_review

    w, camp_id = sms_campaign
    d = w.session.exec(select(Draft).where(Draft.campaign_id == camp_id).order_by(Draft.id)).first()  # type: ignore[arg-type]
    assert not any(f["rule"] == "channel-limits" for f in d.findings)
    edit_draft(w.session, w.marketer, d.id, slots={"note": "Warm wishes to all of our readers in your town."})
    w.session.commit()
    found = [f for f in d.findings if f["rule"] == "channel-limits"]
    assert found and found[0]["level"] == "error" and "segments" in found[0]["message"]
    with pytest.raises(WorkflowError, match="error-level"):
        submit_for_review(w.session, w.marketer, d.id)


def test_a_recipient_whose_name_makes_the_sms_too_long_is_held_back(sms_campaign, tmp_path: Path, sign_all) -> None:  # type: ignore[no-untyped-def]
    from review.export import publish

    w, camp_id = sms_campaign
    s = w.session
    # P2 shares P1's variant; P1 is the sample the draft was checked and shown with.
    r = s.exec(select(Recipient).where(Recipient.external_id == "P2")).one()
    r.data = {**r.data, "first_name": "Anastasia-Maximiliana"}
    s.add(r)
    s.commit()
    forget_stamps()
    sign_all(w, camp_id)
    exp = publish(s, w.marketer, camp_id, tmp_path)
    s.commit()
    shipped = [json.loads(line) for line in Path(exp.jsonl_path).read_text().splitlines()]
    assert "P2" not in {m["recipient_id"] for m in shipped} and "P1" in {m["recipient_id"] for m in shipped} and exp.held_back == 1
    assert all(sms_length(m["body"]).segments == 1 for m in shipped)
    assert "segments" in Path(exp.held_path).read_text()
