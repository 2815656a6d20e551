"""The review console: server-rendered pages over the same service functions as the API,
signed in with an API key; the signed cookie names a server-side session row, never the
key's secret, tenant or scope (see ``session``)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from api.console import operator, session, views
from api.context import ctx


def init_app(app: Flask) -> None:
    """Register the console, the operator's console and the session cookie they need: signed
    with the sessions key derived from the deployment secret, never with the secret itself."""
    with app.app_context():
        c = ctx()
        app.secret_key = c.keys.sessions
        app.config.update(SESSION_COOKIE_SECURE=c.settings.console_secure_cookie,
                          PERMANENT_SESSION_LIFETIME=timedelta(seconds=c.settings.console_max_seconds))
    app.session_interface = session.ConsoleCookies()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_NAME="narrator_console")
    app.register_blueprint(views.bp)  # the tenant's pages; ``session`` adds its sign-in to the same blueprint
    app.register_blueprint(operator.bp)  # the operator's pages: their own sign-in, no tenant
