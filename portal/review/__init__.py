"""The reviewer workspace (审批工作台), its admin pages and the public notice verification.

Three blueprints: ``review`` for reviewers (their own department only), ``review_admin`` for
admins (follow-up tickets of bad ratings, correction exceptions) and ``notices`` for the
public verification page that a notice's QR code points to.
"""

from flask import Blueprint

from portal.access import guard_blueprint
from portal.models import Role

bp = Blueprint("review", __name__, url_prefix="/review")
guard_blueprint(bp, Role.reviewer)

admin_bp = Blueprint("review_admin", __name__, url_prefix="/review/admin")
guard_blueprint(admin_bp, Role.admin)

public_bp = Blueprint("notices", __name__)

from portal.review import admin, public, routes  # noqa: E402,F401
