"""Brand policy: `brand_guidelines/<brand>/brand.yaml`, written by the brand team."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import yamlsafe
from .channels import parse_channels
from .errors import ConfigError
from .fields import FieldSpec, parse_field

if TYPE_CHECKING:
    from sqlmodel import Session

    from .models import Brand

BRAND_KEYS = {
    "name",
    "industry",
    "approvals_required",
    "voice",
    "personalization",
    "disclaimers",
    "allowed_domains",
    "channels",
}
PERSONALIZATION_KEYS = {"max_slots", "max_personalized_share", "fields", "allowed_fields", "sensitive_fields"}
# Special-category data that is never personalized on, whatever a brand file says.
ALWAYS_SENSITIVE = (
    "health_condition",
    "diagnosis",
    "religion",
    "ethnicity",
    "sexual_orientation",
    "political_view",
    "disability",
)


@dataclass(frozen=True)
class BrandPolicy:
    """What a brand allows: who must approve, and how much personalization."""

    slug: str
    name: str
    industry: str
    approvals_required: int = 1
    voice: str = ""
    max_slots: int = 3
    max_personalized_share: float | None = None
    allowed_fields: tuple[str, ...] = ()
    sensitive_fields: tuple[str, ...] = ALWAYS_SENSITIVE
    # Typed declarations from `personalization.fields`; a field only in allowed_fields is text.
    fields: tuple[FieldSpec, ...] = ()
    disclaimers: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    # Per channel: SMS segments, push title/body and email subject lengths (review.channels).
    channels: dict[str, dict[str, int | None]] = field(default_factory=dict, compare=False, hash=False)
    directory: Path | None = field(default=None, compare=False)

    def field_spec(self, name: str) -> FieldSpec | None:
        """How values of `name` are checked on import; None when the brand does not allow it."""
        if name in self.sensitive_fields or name not in self.allowed_fields:
            return None
        return next((f for f in self.fields if f.name == name), None) or FieldSpec(name)

    def as_render_context(self) -> dict[str, Any]:
        return {"name": self.name, "industry": self.industry, "disclaimers": list(self.disclaimers)}


def load_brand(directory: Path) -> BrandPolicy:
    """Load and validate `brand.yaml`. Errors name the file and line."""
    path = Path(directory) / "brand.yaml"
    if not path.is_file():
        raise ConfigError(f"{path}: brand file not found")
    try:
        doc = yamlsafe.load_file(path)
    except yamlsafe.YamlRefused as e:
        raise ConfigError(f"{path}:{e.line or 1}: {e.reason}") from None
    data = doc.value or {}

    def fail(reason: str, *key: str) -> ConfigError:
        return ConfigError(f"{path}:{doc.line(*key) if key else 1}: {reason}")

    if not isinstance(data, dict):
        raise fail("brand.yaml must be a mapping")
    unknown = sorted(set(data) - BRAND_KEYS)
    if unknown:
        raise fail(f"unknown key '{unknown[0]}'", unknown[0])
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail("'name' is required", "name")
    approvals = data.get("approvals_required", 1)
    if isinstance(approvals, bool) or not isinstance(approvals, int) or not 1 <= approvals <= 5:
        raise fail("'approvals_required' must be a whole number from 1 to 5", "approvals_required")
    pers = data.get("personalization") or {}
    if not isinstance(pers, dict):
        raise fail("'personalization' must be a mapping", "personalization")
    unknown = sorted(set(pers) - PERSONALIZATION_KEYS)
    if unknown:
        raise fail(f"unknown personalization key '{unknown[0]}'", "personalization", unknown[0])
    max_slots = pers.get("max_slots", 3)
    if isinstance(max_slots, bool) or not isinstance(max_slots, int) or not 0 <= max_slots <= 10:
        raise fail("'max_slots' must be a whole number from 0 to 10", "personalization", "max_slots")
    share = pers.get("max_personalized_share")
    if share is not None and (isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1):
        raise fail("'max_personalized_share' must be a number above 0 and at most 1", "personalization", "max_personalized_share")

    def str_list(value: Any, *key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(f"'{key[-1]}' must be a list of texts", *key)
        return tuple(v.strip() for v in value)

    allowed = str_list(pers.get("allowed_fields"), "personalization", "allowed_fields")
    typed: list[FieldSpec] = []
    raw_fields = pers.get("fields")
    if raw_fields is not None:
        if allowed:
            raise fail("give 'fields' (typed) or 'allowed_fields' (the older, untyped list), not both", "personalization", "allowed_fields")
        if not isinstance(raw_fields, dict):
            raise fail("'fields' must map each field name to its type, e.g. first_name: {type: name, max_length: 40}", "personalization", "fields")
        for fname, decl in raw_fields.items():
            spec, reason, key = parse_field(str(fname), decl)
            if spec is None:
                raise fail(str(reason), "personalization", "fields", str(fname), *([key] if key else []))
            typed.append(spec)
        allowed = tuple(f.name for f in typed)
    sensitive = tuple(dict.fromkeys(ALWAYS_SENSITIVE + str_list(pers.get("sensitive_fields"), "personalization", "sensitive_fields")))
    clash = sorted(set(allowed) & set(sensitive))
    if clash:
        where = ("fields", clash[0]) if typed else ("allowed_fields",)
        raise fail(f"field '{clash[0]}' is both allowed and sensitive", "personalization", *where)
    channels, reason, where = parse_channels(data.get("channels"))
    if reason:
        raise fail(reason, *where)
    return BrandPolicy(
        slug=Path(directory).name,
        name=name.strip(),
        industry=str(data.get("industry") or ""),
        approvals_required=approvals,
        voice=str(data.get("voice") or ""),
        max_slots=max_slots,
        max_personalized_share=float(share) if share is not None else None,
        allowed_fields=allowed,
        sensitive_fields=sensitive,
        fields=tuple(typed),
        disclaimers=str_list(data.get("disclaimers"), "disclaimers"),
        allowed_domains=str_list(data.get("allowed_domains"), "allowed_domains"),
        channels=channels,
        directory=Path(directory),
    )


def brand_dirs(root: Path) -> list[Path]:
    """Brand folders under the guidelines root (folders starting with '_' are shared bases)."""
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith(("_", ".")) and (p / "brand.yaml").is_file())


# ------------------------------------------------------------------ database mirror


def sync_brands(session: Session, root: Path | None = None) -> list[Brand]:
    """Mirror every brand folder into the database (files stay the source of truth)."""
    from sqlmodel import select

    from . import audit
    from .config import settings
    from .models import Brand

    out = []
    for d in brand_dirs(root or settings().guidelines_dir):
        policy = load_brand(d)
        row = session.exec(select(Brand).where(Brand.slug == policy.slug)).first()
        values = {"name": policy.name, "industry": policy.industry}
        if row is None:
            row = Brand(slug=policy.slug, **values)
            session.add(row)
            session.flush()
            audit.append(session, actor="system", action="brand_registered", entity="brand", entity_id=row.id, after={"slug": policy.slug, **values})
        elif any(getattr(row, k) != v for k, v in values.items()):
            before = {k: getattr(row, k) for k in values}
            for k, v in values.items():
                setattr(row, k, v)
            session.add(row)
            audit.append(session, actor="system", action="brand_updated", entity="brand", entity_id=row.id, before=before, after=values)
        out.append(row)
    return out


def policy_for(brand: Brand, root: Path | None = None) -> BrandPolicy:
    from .config import settings

    return load_brand((root or settings().guidelines_dir) / brand.slug)


def policy_fingerprint(policy: BrandPolicy) -> str:
    """SHA-256 of the brand.yaml a decision was taken under (recorded in each signature)."""
    import hashlib

    if policy.directory is None:
        return ""
    try:
        return hashlib.sha256((Path(policy.directory) / "brand.yaml").read_bytes()).hexdigest()
    except OSError:
        return ""
