"""Admin pages of the workflow: follow-up tickets of bad ratings, correction exceptions."""

from __future__ import annotations

from flask import abort, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from forms.review import CorrectionExceptionForm, TicketForm
from portal.form_flow import save_form
from portal.review import admin_bp
from services import ratings, review, workflow


def _ticket_forms(tickets) -> dict:
    forms = {}
    for ticket in tickets:
        nxt = ratings.TICKET_FLOW.get(ticket.status, ())
        if nxt:
            form = TicketForm(formdata=None, prefix=f"t{ticket.id}")
            form.to_status.choices = [SelectChoice(s, ratings.TICKET_STATES[s]) for s in nxt]
            forms[ticket.id] = form
    return forms


def render_admin(exception_form=None, failed_ticket=None, status: int = 200):
    tickets = ratings.list_tickets(current_user)
    forms = _ticket_forms(tickets)
    if failed_ticket is not None:
        forms[failed_ticket[0]] = failed_ticket[1]
    return render_template(
        "review/admin.html",
        tickets=tickets,
        forms=forms,
        cases=review.applications_by_id([t.application_id for t in tickets]),
        exception_form=exception_form or CorrectionExceptionForm(formdata=None),
        exceptions=workflow.count_correction_exceptions(),
        states=ratings.TICKET_STATES,
    ), status


@admin_bp.route("/")
def index():
    return render_admin()


@admin_bp.route("/exceptions", methods=["POST"])
def record_exception():
    form = CorrectionExceptionForm()
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: workflow.grant_correction_exception(
                current_user, form.case.data, form.reason.data
            ),
            done=_("例外已登记，审批人员可以再要求一次补正"),
            to=url_for("review_admin.index"),
        )
    ):
        return done
    return render_admin(exception_form=form, status=422)


@admin_bp.route("/tickets/<int:ticket_id>", methods=["POST"])
def advance_ticket(ticket_id: int):
    tickets = {t.id: t for t in ratings.list_tickets(current_user)}
    if ticket_id not in tickets:
        abort(404)
    form = TicketForm(prefix=f"t{ticket_id}")
    form.to_status.choices = [
        SelectChoice(s, ratings.TICKET_STATES[s])
        for s in ratings.TICKET_FLOW.get(tickets[ticket_id].status, ())
    ]
    back = url_for("review_admin.index")
    if form.validate() and (
        done := save_form(
            form,
            lambda: ratings.advance_ticket(
                current_user, ticket_id, form.to_status.data, form.note.data
            ),
            done=_("整改单已更新"),
            to=back,
            conflict_to=back,
        )
    ):
        return done
    return render_admin(failed_ticket=(ticket_id, form), status=422)
