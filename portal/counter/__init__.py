"""The counter workstation (综合窗口): walk-in intake for any item on the citizen's behalf, and
the intake that keeps working offline. Counter staff only; the citizen being served lives in
the clerk's server-side context (services/counter.py)."""

from flask import Blueprint

from portal.access import guard_blueprint
from portal.models import Role

bp = Blueprint("counter", __name__, url_prefix="/counter")
guard_blueprint(bp, Role.counter)

from portal.counter import offline, routes  # noqa: E402,F401
