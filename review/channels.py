"""Channel limits on a rendered message: SMS segments, push title and body, email subject.

Limits are declared per brand in brand.yaml under `channels:` (defaults below). They are checked
on each draft's rendered message (an error finding, so a draft that is too long never reaches
review), on every recipient's own message at export (their merge values change the length: too
long is held back), and on a template's fixed copy when it is saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The GSM 03.38 default alphabet (one septet each) and its extension table (two septets each).
_GSM_BASIC = frozenset("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")

# name -> (default, what it limits)
LIMITS: dict[str, dict[str, tuple[int | None, str]]] = {
    "sms": {"max_segments": (1, "SMS segments (160 GSM-7 / 70 UCS-2 characters in one; 153 / 67 per part when split)")},
    "push": {"title_max_chars": (50, "push title characters"), "body_max_chars": (178, "push body characters")},
    "email": {"subject_max_chars": (78, "email subject characters")},
    "letter": {},
}


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # "GSM-7" | "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def sms_length(text: str) -> SmsLength:
    """How a carrier counts an SMS: GSM-7 when every character is in its alphabet, else UCS-2."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in text):
        units = sum(2 if ch in _GSM_EXTENDED else 1 for ch in text)
        single, part, enc = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part, enc = 70, 67, "UCS-2"
    segments = 1 if units <= single else -(-units // part)
    return SmsLength(enc, units, segments)


def parse_channels(raw: Any) -> tuple[dict[str, dict[str, int | None]], str | None, tuple[str, ...]]:
    """brand.yaml's `channels:` → limits with defaults filled in; or (…, reason, key path) when wrong."""
    limits = {ch: {k: d for k, (d, _) in opts.items()} for ch, opts in LIMITS.items()}
    if raw is None:
        return limits, None, ()
    if not isinstance(raw, dict):
        return limits, "'channels' must map a channel (sms, push, email, letter) to its limits", ("channels",)
    for ch, opts in raw.items():
        if ch not in LIMITS:
            return limits, f"unknown channel '{ch}' (known: {', '.join(LIMITS)})", ("channels", str(ch))
        if not isinstance(opts, dict):
            return limits, f"'{ch}' must be a mapping of limits", ("channels", str(ch))
        for k, v in opts.items():
            if k not in LIMITS[ch]:
                return limits, f"unknown {ch} limit '{k}' (known: {', '.join(LIMITS[ch]) or 'none'})", ("channels", str(ch), str(k))
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 10_000):
                return limits, f"'{k}' must be a whole number from 1 to 10000 (or null for no limit)", ("channels", str(ch), str(k))
            limits[ch][k] = v
    return limits, None, ()


def problems(channel: str, subject: str, body: str, limits: dict[str, dict[str, int | None]]) -> list[str]:
    """Every way this rendered message breaks its channel's limits (empty when it fits)."""
    lim = limits.get(channel, {})
    out = []
    if channel == "sms" and (cap := lim.get("max_segments")):
        n = sms_length(body)
        if n.segments > cap:
            out.append(f"the SMS is {n.segments} segments ({n.units} {n.encoding} characters); the brand allows {cap}")
    if channel == "push":
        if (cap := lim.get("title_max_chars")) and len(subject) > cap:
            out.append(f"the push title is {len(subject)} characters; the brand allows {cap}")
        if (cap := lim.get("body_max_chars")) and len(body) > cap:
            out.append(f"the push body is {len(body)} characters; the brand allows {cap}")
    if channel == "email" and (cap := lim.get("subject_max_chars")) and len(subject) > cap:
        out.append(f"the subject is {len(subject)} characters; the brand allows {cap}")
    return out


def finding(message: str) -> dict[str, Any]:
    """A channel problem as a check-report finding (error: it cannot ship as it is)."""
    return {
        "rule": "channel-limits",
        "level": "error",
        "message": message,
        "match": "",
        "span": None,
        "scope": "message",
        "slot": None,
        "suggestion": None,
        "link": None,
        "claim_id": None,
    }
