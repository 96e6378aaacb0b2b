"""Catalogue publishing for admins (事项管理员): departments, materials, items, versions, bundles.

``downloads`` is the public side: the blank forms and filled examples of material types.
"""

from flask import Blueprint

from portal.access import guard_blueprint
from portal.models import Role

bp = Blueprint("admin", __name__)
guard_blueprint(bp, Role.admin)

downloads_bp = Blueprint("downloads", __name__)

from portal.admin import calendar, downloads, halls, routes, staff  # noqa: E402,F401
