"""One transaction boundary per request, as Indico's request handler (``indico/web/rh.py``).

Services write to the session and flush; views call them and never commit or roll back. The
boundary wraps every view (``Portal.dispatch_request``):

- the view returns: the boundary commits once (a 5xx response is rolled back instead), then
  does what must follow the commit: the outbox is delivered (``services.messages``); caches and
  files follow the session's own ``after_commit`` (``services.guide_cache``, ``services.storage``);
- the view raises: the boundary rolls back, and the error handlers (portal/errors.py) show the
  refusal;
- a view that shows a refusal itself (form errors, a flashed conflict) runs the service call
  in ``attempt()``: if the call raises, the request's writes are rolled back before the view
  sees the exception, and whatever the view does afterwards is committed by the boundary;
- refusals that must outlive the refused action (``audit.record_refusal``: a clerk opening a
  case of someone they do not serve) are recorded again after each rollback and committed on
  their own.

Requests are the only callers: the CLI and scheduled jobs (portal/cli.py, services/jobs.py)
commit their own work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app
from werkzeug.wrappers import Response

from portal import database
from portal.extensions import db
from portal.template_i18n import PortalEnvironment
from services import audit


class Portal(Flask):
    """The portal's Flask class: every view runs inside the one transaction boundary."""

    jinja_environment = PortalEnvironment  # templates compiled per language (fixed texts)

    def dispatch_request(self) -> Any:
        return run_view(super().dispatch_request)


def run_view(view: Callable[[], Any]) -> Response:
    """Run ``view``; commit once if it returns (roll back a 5xx), roll back if it raises."""
    from services import messages, tasks

    info = db.session().info
    # without a worker the request sends its own outbox rows: they are written claimed by it
    info[messages.DELIVER_AFTER_COMMIT] = not tasks.queued()
    try:
        try:
            response = current_app.make_response(view())
        except BaseException:
            roll_back()
            raise
        if response.status_code >= 500:
            roll_back()
            return response
        if db.session().in_transaction():  # a page served from the cache opened none
            db.session.commit()
        audit.forget_refusals(db.session)  # committed with the rest
    finally:
        info.pop(messages.DELIVER_AFTER_COMMIT, None)
    _deliver_outbox(response)
    return response


def roll_back() -> None:
    """Undo the request's writes; refusal events are then recorded again and committed alone.

    Also called by the error handlers (an error may be raised before a view runs)."""
    db.session.rollback()
    if audit.pending_refusals(db.session):
        with database.writing():  # even in a GET: the refusal is written
            audit.replay_refusals()
            db.session.commit()
        audit.forget_refusals(db.session)


@contextmanager
def attempt() -> Iterator[None]:
    """Run a service call whose refusal the view shows itself.

    If the block raises, everything this request wrote is rolled back (refusal events are
    recorded again) before the exception reaches the view; the boundary commits what follows.
    """
    try:
        yield
    except BaseException:
        db.session.rollback()
        if audit.pending_refusals(db.session):
            audit.replay_refusals()
        raise


def _deliver_outbox(response: Response) -> None:
    """Messages written by this request go out after its commit (never before): its own rows
    only, sent by the request itself (written claimed by it) or by a worker; a failed send, and
    the rows of a refused request (4xx), are left pending for `flask jobs run`."""
    from services import messages, tasks

    session = db.session()
    pending = session.info.pop("outbox_pending", False)
    if not pending and not session.info.get(messages.OWN_OUTBOX):
        return
    try:
        if response.status_code >= 400:
            messages.release_own(session)
        elif tasks.queued():  # a worker sends them (portal/celery_app.py)
            tasks.send(tasks.DELIVER_OUTBOX)
        else:
            messages.deliver_own(session)
    except Exception:  # delivery is retried by `flask jobs run`; never fail the page
        current_app.logger.exception("outbox delivery failed")
        db.session.rollback()
    finally:
        session.info.pop(messages.OWN_OUTBOX, None)
