"""Every message that ships is checked, not only each variant's sample recipient: a recipient
whose own field values (printed into the fixed copy or the subject) break a rule is held back
at export with the reason, and the CSV is safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlmodel import col, select

from review import audit
from review.checks import recipient_holds, unsafe_character
from review.errors import ExportRefused
from review.export import publish, safe_cell
from review.generation import generate_campaign
from review.models import AuditEvent, Campaign, CampaignRecipient, Recipient

HOSTILE = {"P2": "Ben, guaranteed cure", "P3": "Cara the miracle"}  # the fixture brand's no-guaranteed rule (error)


def set_first_name(w, external_id: str, value: str) -> None:  # type: ignore[no-untyped-def]
    """Values the import would refuse today, planted as a bad import of yesterday might have."""
    r = w.session.exec(select(Recipient).where(Recipient.external_id == external_id)).one()
    r.data = {**r.data, "first_name": value}
    w.session.add(r)
    w.session.commit()


@pytest.fixture
def generated(world, fake_filler):  # type: ignore[no-untyped-def]
    generate_campaign(world.engine, world.marketer, world.campaign_id, fake_filler)
    world.session.expire_all()
    return world


def recipients(w) -> list[str]:  # type: ignore[no-untyped-def]
    q = select(Recipient.external_id).join(CampaignRecipient, col(CampaignRecipient.recipient_id) == col(Recipient.id))
    return list(w.session.exec(q.where(CampaignRecipient.campaign_id == w.campaign_id)).all())


def test_unsafe_characters_are_named() -> None:
    assert unsafe_character("Ann") is None and unsafe_character("Zoë Ørsted") is None
    assert "U+000D" in (unsafe_character("Ann\r\nBcc: x@y") or "")
    assert "U+200B" in (unsafe_character("An\u200bn") or "")
    assert "U+202E" in (unsafe_character("\u202eevil") or "")


def test_each_recipient_is_checked_not_only_the_sample(generated) -> None:  # type: ignore[no-untyped-def]
    w = generated
    ids = recipients(w)
    planted = [i for i in ("P2", "P3") if i in ids]
    assert planted, ids
    for external_id in planted:
        set_first_name(w, external_id, HOSTILE[external_id])
    camp = w.session.get(Campaign, w.campaign_id)
    holds = {h.external_id: h.reason for h in recipient_holds(w.session, camp)}
    assert set(holds) == set(planted)
    assert all("no-guaranteed" in why for why in holds.values())


@pytest.mark.parametrize(
    "value, rule",
    [
        ("Ben, guaranteed cure", "_base.unapproved-claims"),
        ("Cara call 07700 900123", "_base.pii"),
        ("Eve http://evil.example/x", "_base.pii"),
        ("ann@example.org", "_base.pii"),
    ],
)
def test_the_real_brands_finders_run_on_field_values(value: str, rule: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from review.checks import brand_rules

    rules, _ = brand_rules("harbor-mutual", Path(__file__).parent.parent / "brand_guidelines")
    assert rule in {f.rule for f in rules.check_value(value) if f.level == "error"}
    assert rules.check_value("Bristol") == [] and rules.check_value("Siobhán") == []


def test_export_holds_back_recipients_whose_values_break_a_rule(generated, tmp_path: Path, sign_all) -> None:  # type: ignore[no-untyped-def]
    w = generated
    ids = recipients(w)
    bad = {"P2": "Ben, guaranteed cure", "P3": "Cara\r\nBcc: everyone@evil.example"}
    for external_id, value in bad.items():
        set_first_name(w, external_id, value)
    sign_all(w)
    exp = publish(w.session, w.marketer, w.campaign_id, tmp_path)
    w.session.commit()
    shipped = [json.loads(line) for line in Path(exp.jsonl_path).read_text().splitlines()]
    assert sorted(r["recipient_id"] for r in shipped) == sorted(set(ids) - set(bad))
    assert all("\r" not in r["subject"] and "guaranteed" not in r["body"].lower() for r in shipped)
    assert exp.held_back == 2 and exp.row_count == len(ids) - 2
    held = {row["recipient_id"]: row["reason"] for row in csv.DictReader(io.StringIO(Path(exp.held_path).read_text()))}
    assert set(held) == set(bad) and "U+000D" in held["P3"] and "no-guaranteed" in held["P2"]
    ev = w.session.exec(select(AuditEvent).where(AuditEvent.action == "campaign_published")).one()
    assert ev.after["held_back"] == 2 and Path(exp.held_path).name in ev.after["files"]
    assert audit.verify_chain(w.session).ok


def test_export_refuses_when_every_recipient_is_held_back(generated, tmp_path: Path, sign_all) -> None:  # type: ignore[no-untyped-def]
    w = generated
    for external_id in recipients(w):
        set_first_name(w, external_id, "Guaranteed")
    sign_all(w)
    with pytest.raises(ExportRefused, match="every recipient is held back"):
        publish(w.session, w.marketer, w.campaign_id, tmp_path)


@pytest.mark.parametrize("value", ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", '=HYPERLINK("http://evil.example","click")'])
def test_csv_cells_never_start_a_formula(value: str) -> None:
    assert safe_cell(value) == "'" + value
    assert safe_cell("Ann") == "Ann" and safe_cell(3) == "3" and safe_cell(None) == ""


def test_exported_csv_neutralizes_formulas_and_jsonl_stays_exact(generated, tmp_path: Path, sign_all) -> None:  # type: ignore[no-untyped-def]
    w = generated
    r = w.session.exec(select(Recipient).where(Recipient.external_id == "P1")).one()
    r.external_id = "=cmd|' /C calc'!A0"
    w.session.add(r)
    w.session.commit()
    sign_all(w)
    exp = publish(w.session, w.marketer, w.campaign_id, tmp_path)
    w.session.commit()
    rows = list(csv.DictReader(io.StringIO(Path(exp.csv_path).read_text())))
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert any(row["recipient_id"] == "'=cmd|' /C calc'!A0" for row in rows)
    shipped = [json.loads(line) for line in Path(exp.jsonl_path).read_text().splitlines()]
    assert any(rec["recipient_id"] == "=cmd|' /C calc'!A0" for rec in shipped)
