"""Notification emails over SMTP (settings: review.config.SmtpSettings).

`compose` writes one plain-text message per user: a single notification, or a digest when one
action produced several (a bulk submit assigns many drafts). `send` talks to the server with a
timeout; any failure is a MailError carrying the server's answer, which the caller records on
the notifications (review.notifications.deliver) instead of raising it at the user.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from .config import Settings, SmtpSettings
from .errors import CountersignError
from .models import Notification, User

SUBJECT_PREFIX = "[Countersign]"


class MailError(CountersignError):
    """The mail server could not be reached or refused the message."""


def _line(text: str) -> str:
    """Header-safe: one line (a campaign name is user input)."""
    return " ".join(text.split())


def _block(cfg: Settings, n: Notification) -> str:
    parts = [n.title]
    if n.comment:
        parts.append("Comment:\n" + "\n".join(f"  {line}" for line in n.comment.splitlines()))
    if n.link:
        parts.append(f"Open it: {cfg.app_url}{n.link}")
    return "\n\n".join(parts)


def compose(cfg: Settings, user: User, items: Sequence[Notification]) -> EmailMessage:
    if not items:
        raise ValueError("compose needs at least one notification")
    if not user.email:
        raise MailError(f"{user.username} has no email address")
    msg = EmailMessage()
    subject = items[0].title if len(items) == 1 else f"{len(items)} new notifications"
    msg["Subject"] = _line(f"{SUBJECT_PREFIX} {subject}")[:250]
    msg["From"] = cfg.smtp.sender
    msg["To"] = user.email
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=cfg.smtp.sender.rpartition("@")[2] or "countersign.local")
    body = [f"Hello {user.full_name},", ""]
    body.append("\n\n---\n\n".join(_block(cfg, n) for n in items))
    body += ["", "-- ", f"Countersign. Your inbox: {cfg.app_url}/inbox"]
    msg.set_content("\n".join(body))
    return msg


def send(cfg: SmtpSettings, msg: EmailMessage) -> None:
    """Deliver one message, or raise MailError saying what went wrong and where."""
    if not cfg.host:
        raise MailError("email is off: COUNTERSIGN_SMTP_HOST is not set")
    where = f"{cfg.host}:{cfg.port}"
    try:
        if cfg.port == 465:  # implicit TLS
            server: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_seconds, context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
        with server:
            server.ehlo()
            if cfg.starttls and cfg.port != 465:
                server.starttls(context=ssl.create_default_context())
                server.ehlo()
            if cfg.user:
                server.login(cfg.user, cfg.password or "")
            refused = server.send_message(msg)
        if refused:
            raise MailError(f"mail server {where} refused {', '.join(sorted(refused))}")
    except MailError:
        raise
    except smtplib.SMTPNotSupportedError as e:
        raise MailError(f"mail server {where} does not offer STARTTLS ({e}); set COUNTERSIGN_SMTP_STARTTLS=false for a local relay") from None
    except smtplib.SMTPException as e:
        raise MailError(f"mail server {where} refused the message: {e}") from None
    except (OSError, ssl.SSLError) as e:
        raise MailError(f"cannot reach mail server {where}: {e}") from None
