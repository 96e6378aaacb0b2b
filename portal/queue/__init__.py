"""The hall's queue (排队叫号): the public ticket page and call display, the clerk's desk and
the day's statistics. Public pages carry no personal data; the desk is for counter staff."""

from flask import Blueprint

bp = Blueprint("queue", __name__, url_prefix="/queue")

from portal.queue import routes  # noqa: E402,F401
