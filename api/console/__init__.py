"""The review console: server-rendered pages over the same service functions as the API,
signed in with an API key kept (by id, never the secret) in a signed session cookie."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")


def init_app(app: Flask) -> None:
    """Register the console, the operator's console and the session cookie they need (signed
    with Settings.secret_key)."""
    from api.console import operator, session, views  # noqa: F401  (session, views attach their routes to ``bp``)
    from api.context import ctx

    with app.app_context():
        app.secret_key = ctx().settings.secret_key
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_NAME="narrator_console")
    app.register_blueprint(bp)
    app.register_blueprint(operator.bp)  # the operator's pages: their own sign-in, no tenant
