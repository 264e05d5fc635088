"""Template service: save a template as a new immutable version after validating it."""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from . import audit, channels
from .auth import require_role
from .brands import BrandPolicy, brand_by_slug, policy_for
from .errors import NotFound, TemplateError
from .models import Brand, Role, Template, TemplateVersion, User
from .templates import TemplateSpec, parse_template, render


def save_template(session: Session, actor: User, *, brand_slug: str, source: str, filename: str = "template") -> TemplateVersion:
    """Validate and store `source` as the next version of the template it names.

    A new version never alters drafts made from an old one: drafts point at their version.
    Saving identical source again returns the existing latest version.
    """
    require_role(actor, Role.MARKETER, Role.ADMIN)
    brand = brand_by_slug(session, brand_slug)  # a brand folder added later is registered here
    policy = policy_for(brand)
    spec = parse_template(source, policy, name=filename)
    check_channel_fit(spec, policy, filename)
    assert brand.id is not None and actor.id is not None  # stored rows
    tmpl = session.exec(select(Template).where(Template.brand_id == brand.id, Template.name == spec.name)).first()
    if tmpl is None:
        tmpl = Template(brand_id=brand.id, name=spec.name, created_by=actor.id)
        session.add(tmpl)
        session.flush()
        audit.append(
            session, actor=actor.username, action="template_created", entity="template", entity_id=tmpl.id, after={"brand": brand_slug, "name": spec.name}
        )
    assert tmpl.id is not None  # flushed
    latest = latest_version(session, tmpl.id)
    if latest is not None and latest.content_hash == spec.content_hash:
        return latest
    version = TemplateVersion(
        template_id=tmpl.id,
        version=(latest.version + 1) if latest else 1,
        source=source,
        content_hash=spec.content_hash,
        created_by=actor.id,
    )
    session.add(version)
    session.flush()
    audit.append(
        session,
        actor=actor.username,
        action="template_version_saved",
        entity="template_version",
        entity_id=version.id,
        before={"version": latest.version, "hash": latest.content_hash} if latest else None,
        after={"template": spec.name, "version": version.version, "hash": version.content_hash, "slots": list(spec.slots)},
    )
    return version


def check_channel_fit(spec: TemplateSpec, policy: BrandPolicy, filename: str = "template") -> None:
    """Refuse a template whose fixed copy alone (every slot at its fallback, every merge field
    empty) already breaks its channel's limits: no personalization could ever fit."""
    shortest = render(spec, {f: "" for f in spec.merge_fields}, {k: s.fallback for k, s in spec.slots.items()}, policy.as_render_context())
    too_long = channels.problems(spec.channel, shortest.subject, shortest.body, policy.channels)
    if too_long:
        raise TemplateError(f"{too_long[0]}, with every slot at its fallback and no personal data yet; shorten the fixed copy", line=1, source=filename)


def latest_version(session: Session, template_id: int) -> TemplateVersion | None:
    return session.exec(select(TemplateVersion).where(TemplateVersion.template_id == template_id).order_by(col(TemplateVersion.version).desc())).first()


def get_version(session: Session, version_id: int) -> TemplateVersion:
    tv = session.get(TemplateVersion, version_id)
    if tv is None:
        raise NotFound(f"template version {version_id} not found")
    return tv


def version_spec(session: Session, tv: TemplateVersion) -> tuple[TemplateSpec, Brand]:
    """The parsed spec of a stored version (parsed without the budget: it was valid when saved)."""
    tmpl = session.get(Template, tv.template_id)
    if tmpl is None:
        raise NotFound(f"template {tv.template_id} not found")
    brand = session.get(Brand, tmpl.brand_id)
    assert brand is not None
    try:
        return parse_template(tv.source, name=tmpl.name), brand
    except TemplateError as e:  # pragma: no cover - stored versions were validated
        raise TemplateError(f"stored version {tv.id} no longer parses: {e}") from e


def list_templates(session: Session) -> list[tuple[Template, Brand, TemplateVersion]]:
    """Every template with its brand and latest version."""
    sub = select(TemplateVersion.template_id, func.max(TemplateVersion.version).label("v")).group_by(col(TemplateVersion.template_id)).subquery()
    rows = session.exec(
        select(Template, Brand, TemplateVersion)
        .join(Brand, col(Brand.id) == col(Template.brand_id))
        .join(sub, sub.c.template_id == col(Template.id))
        .join(TemplateVersion, (col(TemplateVersion.template_id) == col(Template.id)) & (col(TemplateVersion.version) == sub.c.v))
        .order_by(col(Brand.slug), col(Template.name))
    ).all()
    return [(t, b, tv) for t, b, tv in rows]
