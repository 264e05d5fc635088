"""Every error the domain raises. The UI and CLI turn them into one-line messages."""

from __future__ import annotations


class CountersignError(Exception):
    """Base class: anything the user can be told about in plain words."""


class ConfigError(CountersignError):
    """A setting (environment variable, brand file) is missing or invalid."""


class NotFound(CountersignError):
    """The thing asked for does not exist."""


class Refusal(CountersignError):
    """A security refusal. When `actor` is given, session_scope records it in the audit trail
    (in its own transaction, after the refused one rolls back): failed logins, failed signatures,
    self-review and role violations are what an examiner asks about. `code` is the stable name the
    record carries (what lock-out counting matches on), independent of the class's Python name."""

    code = "refused"

    def __init__(self, message: str, *, actor: str | None = None, attempted: str = "", entity: str = "", entity_id: object = "") -> None:
        super().__init__(message)
        self.actor, self.attempted, self.entity, self.entity_id = actor, attempted, entity, entity_id


class PermissionDenied(Refusal):
    """The acting user's role or relation to the object forbids the action."""

    code = "permission_denied"


class AuthenticationError(Refusal):
    """Wrong username or password, or an inactive account."""

    code = "wrong_password"


class AccountLocked(AuthenticationError):
    """Too many wrong passwords lately: password checks for this name are paused."""

    code = "account_locked"


class SignInRefused(Refusal):
    """A company (OpenID Connect) sign-in was refused: no mapped group, a deactivated or unlinked
    account, or claims that cannot be trusted (review.sso). Not a wrong password: it never counts
    towards the lock-out."""

    code = "sso_refused"


class InvalidTransition(CountersignError):
    """A draft cannot move from its current status to the requested one."""


class WorkflowError(CountersignError):
    """A workflow rule refused the action. Raise one of the subclasses below; catch this one."""


class InvalidInput(WorkflowError):
    """Something the user typed or chose is missing or malformed (a name, a comment, a slot)."""


def checked_choices(chosen: list[str] | tuple[str, ...], allowed: tuple[str, ...], *, noun: str, none_chosen: str) -> list[str]:
    """The distinct, stripped `chosen` values, sorted; InvalidInput naming the first that is not in
    `allowed` ("unknown scope 'x'; scopes are ..."), or `none_chosen` when nothing is left."""
    wanted = sorted({c.strip() for c in chosen if c.strip()})
    if not wanted:
        raise InvalidInput(f"{none_chosen}: {', '.join(allowed)}")
    unknown = [c for c in wanted if c not in allowed]
    if unknown:
        raise InvalidInput(f"unknown {noun} '{unknown[0]}'; {noun}s are {', '.join(allowed)}")
    return wanted


class Conflict(WorkflowError):
    """The action clashes with what is already there: a name taken, a newer revision, work done."""


class NotReady(WorkflowError):
    """The object's state does not allow the action yet (findings to fix, warnings to acknowledge)."""


class TemplateError(CountersignError):
    """A template is invalid. `line` is 1-based within the template file when known."""

    def __init__(self, message: str, *, line: int | None = None, source: str | None = None):
        self.line = line
        self.source = source
        where = f"{source or 'template'}"
        if line is not None:
            where += f", line {line}"
        super().__init__(f"{where}: {message}")
        self.reason = message


class AudienceImportError(CountersignError):
    """A CSV could not be imported; `problems` lists (line, reason) for every bad row."""

    def __init__(self, problems: list[tuple[int, str]], source: str = "CSV"):
        self.problems = problems
        self.source = source
        shown = "; ".join(f"line {ln}: {why}" for ln, why in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{source}: {len(problems)} bad row(s), nothing imported: {shown}{more}")


class ExportRefused(CountersignError):
    """Publishing was refused because a draft is not fully approved or changed since."""

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class AuditChainBroken(CountersignError):
    """The audit trail's hash chain does not verify."""


class ModelLoadError(CountersignError):
    """The model could not be found or loaded (a local one), or reached (one on an inference server)."""


class GenerationError(CountersignError):
    """The model failed while writing: an inference server down, timing out or answering garbage."""
