"""预约: citizens book a visit for an item or one of their cases; counter staff see the day's
bookings of their hall and receive them (接待)."""

from flask import Blueprint

bp = Blueprint("appointments", __name__, url_prefix="/appointments")

from portal.appointments import routes  # noqa: E402,F401
