"""The console's blueprint, apart from the package so that its pages (``views``) and its
sign-in (``session``) can attach routes to it without importing the package that wires them."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")
