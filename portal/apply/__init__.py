"""Applying online: the four steps, 我的办件 and the case page (citizens only)."""

from flask import Blueprint

from portal.access import guard_blueprint
from portal.models import Role

bp = Blueprint("apply", __name__)
guard_blueprint(bp, Role.citizen)

from portal.apply import bundles, casework, routes  # noqa: E402,F401
