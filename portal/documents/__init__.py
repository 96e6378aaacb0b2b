"""我的材料 (the citizen's document library, /documents) and the public e-licence check (/verify)."""

from flask import Blueprint

bp = Blueprint("documents", __name__)
verify_bp = Blueprint("elicences", __name__)

from portal.documents import routes  # noqa: E402,F401
