"""Brand policy: `brand_guidelines/<brand>/brand.yaml`, written by the brand team.

This module is the only reader of brand.yaml. It parses and validates the file into one frozen,
typed `BrandPolicy` that the rule loader, the workflow, checks, export and the UI all read.
Parsed policies are cached by the file's (mtime_ns, size), so pages stay fast and an edited
file is seen at once.

The database keeps only a brand's identity (`models.Brand`: id and slug, for foreign keys);
everything else is read from the file. A brand folder added later is registered on first use
(`brand_by_slug`, `list_brands`, `sync_brands`); a registered brand whose folder is gone is a
clear error naming the folder.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import yamlsafe
from .channels import parse_channels
from .errors import ConfigError, NotFound
from .fields import FieldSpec, parse_field
from .review_steps import SEQUENTIAL, ReviewStep, legacy_plan, parse_review

if TYPE_CHECKING:
    from sqlmodel import Session

    from .models import Brand

BRAND_KEYS = {
    "name",
    "industry",
    "approvals_required",
    "approval_valid_days",
    "voice",
    "personalization",
    "disclaimers",
    "allowed_domains",
    "channels",
    "review",
}
MAX_APPROVAL_VALID_DAYS = 3650  # ten years: a longer "expiry" is a typo, not a policy
PERSONALIZATION_KEYS = {"max_slots", "max_personalized_share", "adapt_min_similarity", "fields", "allowed_fields", "sensitive_fields"}
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
    """Everything brand.yaml says: who must approve, how much personalization, on which fields."""

    slug: str
    name: str
    industry: str
    # Distinct signers a draft needs in all: the sum of the review steps' counts.
    approvals_required: int = 1
    # Days an approval stays valid after the draft became approved (review.expiry); None: never expires.
    approval_valid_days: int | None = None
    voice: str = ""
    max_slots: int = 3
    max_personalized_share: float | None = None
    # The meaning floor of an `adapt` slot's candidates (review.slot_modes); None: the default.
    adapt_min_similarity: float | None = None
    allowed_fields: tuple[str, ...] = ()
    sensitive_fields: tuple[str, ...] = ALWAYS_SENSITIVE
    # Typed declarations from `personalization.fields`; a field only in allowed_fields is text.
    fields: tuple[FieldSpec, ...] = ()
    disclaimers: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    # Per channel: SMS segments, push title/body and email subject lengths (review.channels).
    channels: dict[str, dict[str, int | None]] = field(default_factory=dict, compare=False, hash=False)
    # The review plan (brand.yaml `review:`; review.review_steps): empty means the legacy
    # one-step plan of `approvals_required` signers. Read it through `review_plan`.
    review_order: str = SEQUENTIAL
    review_steps: tuple[ReviewStep, ...] = ()
    # SHA-256 of the exact bytes this policy was parsed from (recorded in each signature).
    sha256: str = field(default="", compare=False)

    def field_spec(self, name: str) -> FieldSpec | None:
        """How values of `name` are checked on import; None when the brand does not allow it."""
        if name in self.sensitive_fields or name not in self.allowed_fields:
            return None
        return next((f for f in self.fields if f.name == name), None) or FieldSpec(name)

    @property
    def review_plan(self) -> tuple[ReviewStep, ...]:
        """The steps a draft passes before it is approved (review.routing routes signatures onto them)."""
        return self.review_steps or legacy_plan(self.approvals_required)

    def as_render_context(self) -> dict[str, Any]:
        return {"name": self.name, "industry": self.industry, "disclaimers": list(self.disclaimers)}


class BrandFileError(ConfigError):
    """brand.yaml is missing or invalid. Reads `<path>:<line>: <reason>`, as the rule loader's
    problems do, so the app, `countersign check` and the loader all show the same message."""

    def __init__(self, path: Path, line: int | None, reason: str):
        self.path, self.line, self.reason = Path(path), line, reason
        super().__init__(f"{path}:{line}: {reason}" if line else f"{path}: {reason}")


# ------------------------------------------------------------------ reading the file

_lock = threading.Lock()
_cache: dict[str, tuple[tuple[int, int], BrandPolicy]] = {}


def load_brand(directory: Path | str) -> BrandPolicy:
    """The validated policy of the brand folder `directory`. Raises BrandFileError naming the
    file and line. Re-parsed only when the file's modification time or size changed (checks
    and pages ask for it per draft: a hit costs one stat)."""
    name = os.path.join(directory, "brand.yaml")
    try:
        st = os.stat(name)
    except OSError:
        raise BrandFileError(Path(name), None, "brand file not found") from None
    key = (st.st_mtime_ns, st.st_size)
    with _lock:
        hit = _cache.get(name)
    if hit is not None and hit[0] == key:
        return hit[1]
    path = Path(name)
    try:
        text = yamlsafe.read_text(path)
        doc = yamlsafe.loads(text)
    except yamlsafe.YamlRefused as e:
        raise BrandFileError(path, e.line or 1, e.reason) from None
    policy = _Parser(path, doc).policy(Path(directory).name, hashlib.sha256(text.encode("utf-8")).hexdigest())
    with _lock:
        _cache[name] = (key, policy)
    return policy


class _Parser:
    """Validation of one brand.yaml document; `fail` builds the error naming the key's line."""

    def __init__(self, path: Path, doc: yamlsafe.YamlDoc):
        self.path, self.doc = path, doc

    def fail(self, reason: str, *key: str) -> BrandFileError:
        return BrandFileError(self.path, self.doc.line(*key) if key else 1, reason)

    def whole(self, value: Any, low: int, high: int, *key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(f"'{key[-1]}' must be a whole number from {low} to {high}", *key)
        return value

    def valid_days(self, data: dict[str, Any]) -> int | None:
        """`approval_valid_days`: how long an approval lasts; absent (or null) means it never expires."""
        value = data.get("approval_valid_days")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_APPROVAL_VALID_DAYS:
            raise self.fail(
                f"'approval_valid_days' must be a whole number of days from 1 to {MAX_APPROVAL_VALID_DAYS} (leave it out for approvals that never expire), "
                f"not {value!r}",
                "approval_valid_days",
            )
        return value

    def texts(self, value: Any, *key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(f"'{key[-1]}' must be a list of texts", *key)
        return tuple(v.strip() for v in value)

    def policy(self, slug: str, sha256: str) -> BrandPolicy:
        data = self.doc.value or {}
        if not isinstance(data, dict):
            raise self.fail("brand.yaml must be a mapping")
        unknown = sorted(set(data) - BRAND_KEYS, key=str)
        if unknown:
            raise self.fail(f"unknown key '{unknown[0]}'", str(unknown[0]))
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise self.fail("'name' is required", "name")
        pers = data.get("personalization") or {}
        if not isinstance(pers, dict):
            raise self.fail("'personalization' must be a mapping", "personalization")
        unknown = sorted(set(pers) - PERSONALIZATION_KEYS, key=str)
        if unknown:
            raise self.fail(f"unknown personalization key '{unknown[0]}'", "personalization", str(unknown[0]))
        share = pers.get("max_personalized_share")
        if share is not None and (isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1):
            raise self.fail("'max_personalized_share' must be a number above 0 and at most 1", "personalization", "max_personalized_share")
        floor = pers.get("adapt_min_similarity")
        if floor is not None and (isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0 <= floor < 1):
            raise self.fail("'adapt_min_similarity' must be a number from 0 to below 1 (e.g. 0.55)", "personalization", "adapt_min_similarity")
        allowed, typed, sensitive = self.fields(pers)
        channels, reason, where = parse_channels(data.get("channels"))
        if reason:
            raise self.fail(reason, *where)
        order, steps, required = self.review(data)
        return BrandPolicy(
            slug=slug,
            name=name.strip(),
            industry=str(data.get("industry") or ""),
            approvals_required=required,
            review_order=order,
            review_steps=steps,
            approval_valid_days=self.valid_days(data),
            voice=str(data.get("voice") or ""),
            max_slots=self.whole(pers.get("max_slots", 3), 0, 10, "personalization", "max_slots"),
            max_personalized_share=float(share) if share is not None else None,
            adapt_min_similarity=float(floor) if floor is not None else None,
            allowed_fields=allowed,
            sensitive_fields=sensitive,
            fields=typed,
            disclaimers=self.texts(data.get("disclaimers"), "disclaimers"),
            allowed_domains=self.texts(data.get("allowed_domains"), "allowed_domains"),
            channels=channels,
            sha256=sha256,
        )

    def review(self, data: dict[str, Any]) -> tuple[str, tuple[ReviewStep, ...], int]:
        """(order, steps, distinct signers needed in all) from `review:` or `approvals_required:`."""
        if "review" not in data:
            return SEQUENTIAL, (), self.whole(data.get("approvals_required", 1), 1, 5, "approvals_required")
        if "approvals_required" in data:
            raise self.fail("give 'review' (steps) or 'approvals_required' (one step of any reviewers), not both", "approvals_required")
        order, steps, reason, where = parse_review(data["review"])
        if reason:
            raise BrandFileError(self.path, self.doc.line(*where), reason)
        return order, steps, sum(s.count for s in steps)

    def fields(self, pers: dict[str, Any]) -> tuple[tuple[str, ...], tuple[FieldSpec, ...], tuple[str, ...]]:
        """(allowed field names, typed declarations, sensitive field names) of `personalization`."""
        allowed = self.texts(pers.get("allowed_fields"), "personalization", "allowed_fields")
        typed: list[FieldSpec] = []
        raw = pers.get("fields")
        if raw is not None:
            if allowed:
                raise self.fail("give 'fields' (typed) or 'allowed_fields' (the older, untyped list), not both", "personalization", "allowed_fields")
            if not isinstance(raw, dict):
                raise self.fail("'fields' must map each field name to its type, e.g. first_name: {type: name, max_length: 40}", "personalization", "fields")
            for fname, decl in raw.items():
                spec, reason, key = parse_field(str(fname), decl)
                if spec is None:
                    raise self.fail(str(reason), "personalization", "fields", str(fname), *([key] if key else []))
                typed.append(spec)
            allowed = tuple(f.name for f in typed)
        sensitive = tuple(dict.fromkeys(ALWAYS_SENSITIVE + self.texts(pers.get("sensitive_fields"), "personalization", "sensitive_fields")))
        clash = sorted(set(allowed) & set(sensitive))
        if clash:
            where = ("fields", clash[0]) if typed else ("allowed_fields",)
            raise self.fail(f"field '{clash[0]}' is both allowed and sensitive", "personalization", *where)
        return allowed, tuple(typed), sensitive


def brand_dirs(root: Path) -> list[Path]:
    """Brand folders under the guidelines root (folders starting with '_' are shared bases)."""
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith(("_", ".")) and (p / "brand.yaml").is_file())


def _root(root: Path | None) -> Path:
    from .config import settings

    return root or settings().guidelines_dir


def policy_for(brand: Brand | str, root: Path | None = None) -> BrandPolicy:
    """The policy of a registered brand (a row or its slug). A brand whose folder is gone is an
    error naming the folder, not a quiet default."""
    slug = brand if isinstance(brand, str) else brand.slug
    directory = os.path.join(_root(root), slug)
    try:
        return load_brand(directory)
    except BrandFileError as e:
        if e.line is None and not os.path.isdir(directory):
            gone = f"brand '{slug}': its folder {directory} is missing (renamed or removed?)"
            raise ConfigError(f"{gone}; restore it to work with this brand's campaigns") from None
        raise


def policy_fingerprint(policy: BrandPolicy) -> str:
    """SHA-256 of the brand.yaml a decision was taken under (recorded in each signature)."""
    return policy.sha256


# ------------------------------------------------------------------ identity in the database


def _register(session: Session, slug: str) -> Brand:
    from . import audit
    from .models import Brand

    row = Brand(slug=slug)
    session.add(row)
    session.flush()
    audit.append(session, actor="system", action="brand_registered", entity="brand", entity_id=row.id, after={"slug": slug})
    return row


def brand_by_slug(session: Session, slug: str, root: Path | None = None) -> Brand:
    """The brand's row, registering it on first use when its folder holds a valid brand.yaml."""
    from sqlmodel import select

    from .models import Brand

    row = session.exec(select(Brand).where(Brand.slug == slug)).first()
    if row is not None:
        return row
    directory = _root(root) / slug
    if slug.startswith(("_", ".")) or "/" in slug or not (directory / "brand.yaml").is_file():
        raise NotFound(f"brand '{slug}' not found (no folder {directory} with a brand.yaml)")
    load_brand(directory)  # a broken file is reported before anything refers to the brand
    return _register(session, slug)


def sync_brands(session: Session, root: Path | None = None) -> list[Brand]:
    """Register every brand folder that has no row yet; return the rows of every brand folder.

    Only identity is stored, so nothing is copied: an edited brand.yaml needs no re-sync."""
    from sqlmodel import select

    from .models import Brand

    rows = {b.slug: b for b in session.exec(select(Brand)).all()}
    out = []
    for d in brand_dirs(_root(root)):
        load_brand(d)
        out.append(rows.get(d.name) or _register(session, d.name))
    return out


def list_brands(session: Session, root: Path | None = None) -> list[tuple[Brand, BrandPolicy]]:
    """Every brand with a folder, registered on first use, sorted by the name brand.yaml gives."""
    pairs = [(b, load_brand(_root(root) / b.slug)) for b in sync_brands(session, root)]
    return sorted(pairs, key=lambda bp: (bp[1].name.casefold(), bp[0].slug))


def brand_slugs_named(word: str, root: Path | None = None) -> list[str]:
    """Slugs of the brand folders whose brand.yaml name contains `word` (any letter case)."""
    word = word.casefold()
    return [d.name for d in brand_dirs(_root(root)) if word in load_brand(d).name.casefold()]
