"""Log in: username and password, checked by review.auth.authenticate (see ui.common.login_form)."""

from __future__ import annotations

from ui import common

common.login_form()
