"""The three demo brands' real rule sets on fixed texts give exactly these findings."""

import pytest

from review.guidelines import CheckContext, load_ruleset
from review.guidelines.testing import GUIDELINES


class Fragment(str):
    """A piece of copy, not a whole message: required texts (disclaimers) are not expected."""


HM_DISCLAIMER = "Harbor Mutual Insurance Ltd is authorised and regulated by the Financial Conduct Authority."
VP_DISCLAIMER = "This material is for information only and does not replace advice from your doctor."
NB_DISCLAIMER = (
    "Northbank plc is authorised by the Prudential Regulation Authority and regulated by the Financial "
    "Conduct Authority and the Prudential Regulation Authority."
)


def draft(fixed: list[str], slots: dict[str, str], inputs: dict[str, dict[str, str]], recipient: dict[str, str], **kw) -> CheckContext:
    seq = list(slots)
    message = fixed[0] + "".join(slots[s] + fixed[i + 1] for i, s in enumerate(seq))
    return CheckContext(
        message=kw.pop("message", message),
        subject=kw.pop("subject", "Your renewal"),
        slots=slots,
        slot_max_words=kw.pop("slot_max_words", {s: 25 for s in seq}),
        slot_inputs=inputs,
        recipient=recipient,
        fixed_segments=fixed,
        slot_sequence=seq,
        **kw,
    )


MARIA = {"first_name": "Maria", "city": "Leeds", "tenure_years": "5", "health_condition": "asthma", "debt_status": "arrears", "email": "maria@example.com"}
HM_FIXED = ["Dear Maria,\n\n", "\n\nYour home policy renews on 1 May. Nothing changes unless you ask.\n\n", f"\n\n{HM_DISCLAIMER}"]

CASES = [
    ("calm-sentence-hm", "harbor-mutual", Fragment("Thanks for being with us for 5 years, Maria.")),
    ("calm-sentence-vp", "vitalis-pharma", Fragment("Thanks for being with us for 5 years, Maria.")),
    ("calm-sentence-nb", "northbank", Fragment("Thanks for being with us for 5 years, Maria.")),
    (
        "hm-clean-draft",
        "harbor-mutual",
        draft(
            HM_FIXED,
            {"greeting": "Thanks for being with us for 5 years, Maria.", "tip": "Check your cover before you travel."},
            {"greeting": {"first_name": "Maria", "tenure_years": "5"}, "tip": {}},
            MARIA,
        ),
    ),
    (
        "hm-bad-draft",
        "harbor-mutual",
        draft(
            HM_FIXED,
            {
                "greeting": "Hi Maria! We noticed you live in Leeds with asthma!!",
                "tip": "Our R1SK\u2011FREE cover: a guaranteed payout. Email maria@example.com",
            },
            {"greeting": {"first_name": "Maria"}, "tip": {}},
            MARIA,
            subject="HUGE savings",
        ),
    ),
    (
        "hm-claims",
        "harbor-mutual",
        f"We're rated 4.8 out of 5 by our customers on Trustpilot. Voted best home insurer 2022. "
        f"Get 10% off with our multi-policy discount. No questions asked. Contact harbor mutual. {HM_DISCLAIMER}",
    ),
    (
        "vp-text",
        "vitalis-pharma",
        "Clinically proven to reduce flare-ups by 40% over 12 weeks. This breakthrough gives instant relief and "
        "has no side effects. Ask your physician. Visit vitalis.example or www.pharmadeals.com for more.",
    ),
    (
        "vp-draft-over-budget",
        "vitalis-pharma",
        draft(
            ["Hello,\n", "\n", f"\nRead the package leaflet.\n{VP_DISCLAIMER}"],
            {
                "intro": "As someone living with your diagnosis of psoriasis we want to share news about treatment options near you.",
                "extra": "More words here to go well past the share the brand allows today.",
            },
            {"intro": {}, "extra": {}},
            {"first_name": "Ana", "diagnosis": "psoriasis"},
            subject="Important news about your treatment options from the Vitalis team today",
        ),
    ),
    (
        "nb-text",
        "northbank",
        "Borrow at 6.9% with NorthBank, pre-approved for you. Bad credit? No problem. Thinking about a mortgage? "
        "Voted Best Bank for Customer Service 2024 by MoneyWise readers. The UK's fastest-growing bank. "
        f"Call 0800 123 4567 or IBAN DE89370400440532013000. {NB_DISCLAIMER}",
    ),
    (
        "nb-edited-fixed-copy",
        "northbank",
        draft(
            ["Hello ", ",\nYour Everyday Account has no monthly fee.\n", f"\n{NB_DISCLAIMER}"],
            {"name": "Sam", "note": "Given your debt and your credit score, we can help."},
            {"name": {"first_name": "Sam"}, "note": {}},
            {"first_name": "Sam", "credit_score": "540", "city": "York"},
            message=f"Hello Sam,\nYour Everyday Account has a small monthly fee.\nGiven your debt and your credit score, we can help.\n{NB_DISCLAIMER}",
        ),
    ),
]


def run(rs, case):
    if isinstance(case, CheckContext):
        return rs.check(case)
    return rs.check_text(case, complete=not isinstance(case, Fragment))


EXPECTED: dict[str, list[tuple]] = {
    "calm-sentence-hm": [],
    "calm-sentence-vp": [],
    "calm-sentence-nb": [],
    "hm-clean-draft": [],
    "hm-bad-draft": [
        ("_base.creepy-phrases", "warning", "slot", "greeting", (10, 24)),  # 'We noticed you'
        ("_base.leak", "error", "slot", "greeting", (33, 38)),  # 'Leeds'
        ("_base.leak", "error", "slot", "greeting", (44, 50)),  # 'asthma'
        ("_base.leak", "error", "slot", "tip", (48, 65)),  # 'maria@example.com'
        ("_base.pii", "error", "slot", "tip", (48, 65)),  # 'maria@example.com'
        ("_base.personalization-budget", "error", "message", None, None),  # ''
        ("_base.exclamation", "warning", "message", None, (63, 65)),  # '!!'
        ("_base.shouting", "warning", "message", None, (138, 147)),  # 'R1SK‑FREE'
        ("_base.unapproved-claims", "error", "message", None, (138, 147)),  # 'R1SK‑FREE'
        ("harbor-mutual.no-risk-free", "warning", "message", None, (138, 147)),  # 'R1SK‑FREE'
        ("_base.unapproved-claims", "error", "message", None, (157, 167)),  # 'guaranteed'
        ("harbor-mutual.no-guaranteed-payout", "error", "message", None, (157, 174)),  # 'guaranteed payout'
    ],
    "hm-claims": [
        ("_base.unapproved-claims", "suggestion", "message", None, (6, 55)),  # 'rated 4.8 out of 5 by our customers on Trustpilot'
        ("_base.unapproved-claims", "error", "message", None, (57, 85)),  # 'Voted best home insurer 2022'
        ("harbor-mutual.discount-terms", "error", "message", None, (91, 98)),  # '10% off'
        ("harbor-mutual.reject", "error", "message", None, (131, 149)),  # 'No questions asked'
        ("harbor-mutual.brand-name", "warning", "message", None, (159, 172)),  # 'harbor mutual'
    ],
    "vp-text": [
        ("vitalis-pharma.disclaimer-1", "error", "message", None, None),  # ''
        ("_base.unapproved-claims", "suggestion", "message", None, (0, 58)),  # 'Clinically proven to reduce flare-ups by 40% over 12 weeks'
        ("vitalis-pharma.benefit-needs-leaflet", "error", "message", None, (21, 27)),  # 'reduce'
        ("vitalis-pharma.reject", "error", "message", None, (65, 77)),  # 'breakthrough'
        ("vitalis-pharma.no-outcome-promises", "error", "message", None, (84, 98)),  # 'instant relief'
        ("_base.unapproved-claims", "error", "message", None, (107, 122)),  # 'no side effects'
        ("vitalis-pharma.plain-language", "suggestion", "message", None, (133, 142)),  # 'physician'
        ("_base.pii", "error", "message", None, (169, 188)),  # 'www.pharmadeals.com'
    ],
    "vp-draft-over-budget": [
        ("_base.sensitive-data", "error", "slot", "intro", (23, 37)),  # 'your diagnosis'
        ("_base.leak", "error", "slot", "intro", (41, 50)),  # 'psoriasis'
        ("_base.personalization-budget", "error", "message", None, None),  # ''
        ("vitalis-pharma.subject-length", "warning", "subject", None, (61, 71)),  # 'team today'
    ],
    "nb-text": [
        ("northbank.rate-needs-apr", "error", "message", None, (10, 14)),  # '6.9%'
        ("northbank.brand-name", "warning", "message", None, (20, 29)),  # 'NorthBank'
        ("northbank.no-pressure-credit", "error", "message", None, (31, 43)),  # 'pre-approved'
        ("_base.sensitive-data", "error", "message", None, (53, 63)),  # 'Bad credit'
        ("northbank.reject", "error", "message", None, (53, 75)),  # 'Bad credit? No problem'
        ("northbank.mortgage-warning", "error", "message", None, (94, 102)),  # 'mortgage'
        ("_base.unapproved-claims", "suggestion", "message", None, (104, 166)),  # 'Voted Best Bank for Customer Service 2024 by MoneyWise readers'
        ("_base.unapproved-claims", "error", "message", None, (168, 197)),  # "The UK's fastest-growing bank"
        ("_base.pii", "error", "message", None, (204, 217)),  # '0800 123 4567'
        ("_base.pii", "error", "message", None, (226, 248)),  # 'DE89370400440532013000'
    ],
    "nb-edited-fixed-copy": [
        ("_base.sensitive-data", "error", "slot", "note", (6, 15)),  # 'your debt'
        ("_base.sensitive-data", "error", "slot", "note", (20, 37)),  # 'your credit score'
        ("_base.fixed-copy", "error", "fixed", None, (37, 44)),  # 'a small'
    ],
}


@pytest.mark.parametrize("name, brand, case", CASES, ids=[c[0] for c in CASES])
def test_golden(name, brand, case):
    rs = load_ruleset(GUIDELINES / brand)
    found = run(rs, case)
    assert [(f.rule, f.level, f.scope, f.slot, f.span) for f in found] == EXPECTED[name]
