"""Shared Streamlit plumbing: engine, filler, the logged-in user, and the one way to call a service.

Pages read widgets, call one service function through `call` (one unit of work each), and show
its result or its error. Pages never open a session or query: what they show comes from
review.views, what they do from the services (review.workflow.perform for a draft's actions).
Permission decisions live in the services; a hidden page is not a permission.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import streamlit as st

from review.config import settings
from review.db import make_engine, migrate, record_refusal, session_scope
from review.errors import CountersignError, Refusal
from review.models import Role, User
from review.views import signed_in_user

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

T = TypeVar("T")

USER_KEY = "user_id"
ACTIVITY_KEY = "last_activity"
FLASH_KEY = "flash"
SSO_KEY = "signed_in_via_sso"  # this session signed in with the company account (st.user)
SSO_REFUSED_KEY = "sso_refused"  # why company sign-in refused this session (shown on the login page)
COMPANY = "company"  # the provider's name in secrets.toml: [auth.company]


# ------------------------------------------------------------------ cached resources


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    engine = make_engine(url)
    migrate(engine)
    return engine


def get_engine() -> Engine:
    """One engine per database URL per process (tests point each run at their own file)."""
    return _engine_for(settings().database_url)


@st.cache_resource(show_spinner="Loading the local model…")
def _filler_for(kind: str, path: str | None) -> Any:
    from review import filling

    if kind == "fake":
        return filling.FakeFiller()
    return filling.load_filler(path)


def get_filler() -> Any:
    """The slot filler: the local model, or the fake one when COUNTERSIGN_FILLER=fake."""
    return _filler_for(settings().filler, settings().model_path)


# ------------------------------------------------------------------ service calls


@dataclass(frozen=True)
class Outcome:
    ok: bool
    value: Any = None
    error: CountersignError | None = None


def call(fn: Callable[..., T], *args: Any, show_error: bool = True, **kwargs: Any) -> Outcome:
    """The one way a page reaches the domain: `fn(session, *args, **kwargs)` as one unit of work
    (review.db.session_scope: committed, or rolled back with a security refusal put on record).
    A domain error becomes one plain sentence on the page, never a traceback.

    The session does not expire what it loaded when it commits, and services return
    dataclasses or rows read in full, so the result reads the same after the session closed."""
    try:
        with session_scope(get_engine()) as session:
            value = fn(session, *args, **kwargs)
    except CountersignError as e:
        if show_error:
            st.error(str(e), icon=":material/error:")
        return Outcome(False, error=e)
    return Outcome(True, value)


def record_refusals(errors: Any) -> None:
    """Put on record the refusals a batch service returned instead of raising (its transaction
    has committed by now, so each lands in its own, like `call` does for a raised one)."""
    for e in errors:
        if isinstance(e, Refusal):
            record_refusal(get_engine(), e)


def read(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A read without the ceremony (errors still shown plainly, then the page stops)."""
    out = call(fn, *args, **kwargs)
    if not out.ok:
        st.stop()
    return out.value  # type: ignore[no-any-return]


# ------------------------------------------------------------------ login state


def _load_user(user_id: int) -> User | None:
    out = call(signed_in_user, user_id)
    return out.value if out.ok else None


def flash(message: str, kind: str = "info") -> None:
    """A message shown once on the next run (survives st.rerun / switch_page)."""
    st.session_state[FLASH_KEY] = (kind, message)


def show_flash() -> None:
    item = st.session_state.pop(FLASH_KEY, None)
    if item:
        kind, message = item
        getattr(st, kind, st.info)(message)


def log_in(user: User) -> None:
    st.session_state[USER_KEY] = user.id
    st.session_state[ACTIVITY_KEY] = time.time()


def log_out(message: str | None = None) -> bool:
    """End the session. One signed in with the company account also ends Streamlit's identity
    cookie (st.logout, which goes through the provider's logout), so neither this tab nor a new
    one is signed in again silently; the browser then reloads the app at its login page, and
    this returns True (the caller should not rerun: that reload is the next run)."""
    # Also when this session signed in with the local form over a company cookie: logging out
    # must not leave a company sign-in behind that the next run would take up silently.
    via_sso = bool(st.session_state.get(SSO_KEY)) or sso_claims() is not None
    for key in list(st.session_state.keys()):
        if key != FLASH_KEY:
            del st.session_state[key]
    if message:
        flash(message, "warning")
    if via_sso:
        st.logout()
    return via_sso


def current_user() -> User | None:
    """The logged-in, still active user, or None. Applies the inactivity timeout. A browser that
    comes back from company sign-in (st.user) is signed in here through review.sso.sign_in."""
    user = _signed_in_user()
    if user is None and USER_KEY not in st.session_state:
        user = _company_user()
    if user is not None:
        st.session_state[ACTIVITY_KEY] = time.time()
    return user


# ------------------------------------------------------------------ company sign-in (OIDC)


def company_sign_in() -> bool:
    """Is company sign-in configured: an [auth] section with [auth.company] in secrets.toml?"""
    try:
        if not st.secrets.load_if_toml_exists():
            return False
        auth = st.secrets.get("auth")
        return isinstance(auth, Mapping) and isinstance(auth.get(COMPANY), Mapping)
    except Exception:  # an unreadable secrets file: the local form still works
        return False


def sso_claims() -> dict[str, Any] | None:
    """The ID token claims of the company sign-in behind this browser session (st.user), if any."""
    if not company_sign_in():
        return None
    info = st.user.to_dict()
    if not info.get("is_logged_in"):
        return None
    return {k: v for k, v in info.items() if k not in ("is_logged_in", "tokens")}


def _company_user() -> User | None:
    """Sign in the user the company account names (once per session; a refusal is kept for the
    login page to show instead of being asked again on every rerun)."""
    if st.session_state.get(SSO_REFUSED_KEY):
        return None
    claims = sso_claims()
    if claims is None:
        return None
    from review.sso import sign_in

    out = call(sign_in, claims, show_error=False)
    if not out.ok:
        st.session_state[SSO_REFUSED_KEY] = str(out.error)
        return None
    log_in(out.value)
    st.session_state[SSO_KEY] = True
    return out.value  # type: ignore[no-any-return]


def company_sign_in_button() -> None:
    """The login page's way to company sign-in (only when it is configured), and a refusal's reason."""
    if not company_sign_in():
        return
    refused = st.session_state.get(SSO_REFUSED_KEY)
    if refused:
        st.error(refused, icon=":material/error:")
        if st.button("Sign out of the company account", key="sso_sign_out", icon=":material/logout:", width="stretch"):
            st.session_state.pop(SSO_REFUSED_KEY, None)
            st.logout()
    st.divider()
    if st.button("Sign in with your company account", key="sso_login", icon=":material/badge:", width="stretch"):
        st.login(COMPANY)


def _signed_in_user() -> User | None:
    """The session's user while signed in, active and within the inactivity timeout; otherwise
    log the session out with the reason and return None. Never counts as activity."""
    user_id = st.session_state.get(USER_KEY)
    if user_id is None:
        return None
    last = st.session_state.get(ACTIVITY_KEY)
    if last is not None and time.time() - float(last) > settings().session_timeout_minutes * 60:
        log_out(f"Your session expired after {settings().session_timeout_minutes} minutes without activity. Please log in again.")
        return None
    user = _load_user(int(user_id))
    if user is None or not user.active:
        log_out("Your account is no longer active. Ask an administrator.")
        return None
    return user


def still_signed_in() -> bool:
    """For code that runs on a timer (a polling fragment): is the user still signed in, active
    and within the inactivity timeout? Unlike `current_user`, it never counts as activity, so
    polling neither keeps an idle session alive nor runs on for a deactivated account; when the
    answer is no, the session is logged out with the reason."""
    return _signed_in_user() is not None


def login_form() -> None:
    """Username and password, checked by review.auth.authenticate. On success the same page
    runs again, now logged in: a deep link (`/draft?draft=12`) lands where it pointed, with its
    query parameters, and a page the role does not use falls back to the role's home page."""
    from review.auth import authenticate

    _, mid, _ = st.columns([1, 1.2, 1])
    with mid:
        st.title("✒️ Countersign")
        st.caption("Human-approved AI personalization for regulated marketing.")
        with st.form("login_form", clear_on_submit=False):
            username = st.text_input("Username", key="login_username", autocomplete="username")
            password = st.text_input("Password", type="password", key="login_password", autocomplete="current-password")
            submitted = st.form_submit_button("Log in", key="login_submit", type="primary", width="stretch")
        if submitted:
            out = call(authenticate, username, password)
            if out.ok:
                log_in(out.value)
                st.rerun()
        company_sign_in_button()


def require_user() -> User:
    """The logged-in user; otherwise the login form in place of the page, which stops here."""
    user = current_user()
    if user is None:
        login_form()
        st.stop()
    return user  # type: ignore[return-value]


# ------------------------------------------------------------------ navigation

PAGES: list[tuple[str, str, str, tuple[str, ...]]] = [
    # (file, title, icon, roles that see it)
    # A marketer's menu starts on Campaigns, where drafts are opened; "Draft" follows it for the
    # draft last opened (its page says where to find one when none is).
    ("ui/pages/queue.py", "Review queue", ":material/inbox:", (Role.REVIEWER, Role.ADMIN)),
    ("ui/pages/campaigns.py", "Campaigns", ":material/campaign:", (Role.MARKETER, Role.ADMIN)),
    ("ui/pages/draft.py", "Draft", ":material/article:", Role.ALL),
    ("ui/pages/my_work.py", "My work", ":material/task_alt:", Role.ALL),
    ("ui/pages/inbox.py", "Inbox", ":material/notifications:", Role.ALL),  # the title carries the unread count (pages_for)
    ("ui/pages/templates.py", "Templates", ":material/edit_note:", (Role.MARKETER, Role.ADMIN)),
    ("ui/pages/audiences.py", "Audiences", ":material/groups:", (Role.MARKETER, Role.ADMIN)),
    ("ui/pages/exports.py", "Exports", ":material/download:", Role.ALL),
    ("ui/pages/expiring.py", "Expiring", ":material/event_busy:", (Role.REVIEWER, Role.ADMIN)),
    ("ui/pages/dashboard.py", "Dashboard", ":material/monitoring:", Role.ALL),
    ("ui/pages/audit.py", "Audit trail", ":material/policy:", Role.ALL),  # marketers: their campaigns
    ("ui/pages/users.py", "Users", ":material/manage_accounts:", (Role.ADMIN,)),
    ("ui/pages/api_access.py", "API access", ":material/api:", (Role.ADMIN,)),
]


def page_files_for(role: str) -> list[str]:
    return [f for f, _, _, roles in PAGES if role in roles]


def pages_logged_out() -> list[Any]:
    """The login page, plus every page hidden behind it: a reload or a shared link such as
    `/draft?draft=12` then opens that page (which shows the login form, see require_user)
    instead of Streamlit's "Page not found", and keeps its URL and query parameters."""
    login = st.Page("ui/pages/login.py", title="Log in", icon=":material/login:", default=True)
    return [login, *(st.Page(f, title=title, icon=icon, visibility="hidden") for f, title, icon, _ in PAGES)]


def pages_for(role: str, *, unread: int = 0) -> list[Any]:
    """The pages this role uses; the first is its home page. `unread`: the user's unread
    notifications, shown in the Inbox entry's title."""
    home = {Role.REVIEWER: "ui/pages/queue.py", Role.MARKETER: "ui/pages/campaigns.py", Role.ADMIN: "ui/pages/queue.py"}[role]
    out = []
    for f, title, icon, roles in PAGES:
        if role in roles:
            shown = f"{title} ({unread})" if f == "ui/pages/inbox.py" and unread else title
            out.append(st.Page(f, title=shown, icon=icon, default=(f == home)))
    return out


def unread_notifications(user: User) -> int:
    """The user's unread notifications (0 when the count cannot be read: the sidebar never fails)."""
    from review.notifications import unread_count

    out = call(unread_count, user, show_error=False)
    return int(out.value) if out.ok else 0


def sticky(key: str, default: Any) -> None:
    """Call before creating the widget `key` (with no default of its own): it starts from the value
    it had when the user last left the page, else `default`. Streamlit forgets a widget's value on
    any run that does not draw it (another page), so a copy is kept under a key of our own."""
    keep = f"_kept_{key}"
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(keep, default)
    st.session_state[keep] = st.session_state[key]


def kept(key: str) -> None:
    """After the widget `key` ran: remember what it holds now, for `sticky` on a later visit."""
    st.session_state[f"_kept_{key}"] = st.session_state.get(key)


NAV_KEY = "draft_nav"  # the list a draft was opened from (queue page, campaign): next / previous


def open_draft(draft_id: int, among: list[int] | None = None) -> None:
    """Go to the draft page for one draft (its id also lands in the URL). `among`: the list it
    was opened from, which the draft page's next / previous buttons walk."""
    if among is not None:
        st.session_state[NAV_KEY] = [int(i) for i in among]
    st.session_state["draft_id"] = int(draft_id)
    st.switch_page("ui/pages/draft.py", query_params={"draft": str(int(draft_id))})


def viewer_zone() -> Any:
    """The viewer's timezone, as their browser reports it (UTC when it does not)."""
    from ui.labels import zone

    try:
        name = st.context.timezone
    except Exception:  # no browser behind this run (bare mode)
        name = None
    return zone(name)


def fmt_ts(ts: Any) -> str:
    """A stored (UTC) time as the viewer reads it: '27 Nov 2026, 16:10 CET'."""
    from ui.labels import when

    return when(ts, viewer_zone())
