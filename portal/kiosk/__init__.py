"""The self-service kiosk (自助终端) of a hall: guides, case checks, tickets, kiosk applications
and help, in 长辈模式 by default; idle terminals return to their start and forget everything."""

from flask import Blueprint

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")

from portal.kiosk import routes  # noqa: E402,F401
