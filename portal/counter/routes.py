"""The counter workstation: find or register the citizen, intake on their behalf, outcomes."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from portal.counter import bp
from services import counter


@bp.route("/")
def workstation():
    """The clerk's desk: the citizen being served now, or the search for the next one."""
    return render_template("counter/workstation.html", context=counter.current_context(current_user))
