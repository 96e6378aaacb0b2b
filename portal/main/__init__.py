"""Home, health, profile and the display preferences (长辈模式, language)."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from portal.main import routes  # noqa: E402,F401
