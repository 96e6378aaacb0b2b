"""Thin views of the reviewer workspace: parse the form, call one service, redirect."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from wtforms.fields.choices import SelectChoice

from forms.review import ACTION_FORMS, PostCheckForm, RevokeForm, VerdictForm, VisitForm
from portal.files import notice_response, send_stored
from portal.form_flow import act_on_case, save_form
from portal.params import arg_int, form_version
from portal.personal_pages import personal_page
from portal.review import bp
from portal.template_i18n import labels_in_locale
from portal.transaction import attempt
from services import cache, casework, clock, elicences, notices, review, visits, workflow
from services.case_states import STAFF_OPEN_STATES, STATE_LABELS
from services.errors import Conflict, ValidationError

REVEALED_KEY = "revealed_cases"
SAFE_TYPES = {"application/pdf", "image/png", "image/jpeg"}
REMINDERS_SHOWN = 20  # on the queue page, newest first


def _version() -> int:
    return form_version()


def _int_arg(name: str) -> int | None:
    return arg_int(name)


@bp.route("/")
@personal_page
def queue():
    """The department's open cases a page at a time; the filters, the sort and the page boundary
    are all in the URL (?status=&item=&step=&due=&sort=due|new&after=|before=)."""
    filters = {
        "status": request.args.get("status", ""),
        "item_id": _int_arg("item"),
        "step": request.args.get("step", "")[:100],
        "due": request.args.get("due", ""),
        "sort": request.args.get("sort", "") if request.args.get("sort") in review.SORTS else "due",
    }
    page = review.queue(
        current_user,
        **filters,
        after=request.args.get("after", "")[:40],
        before=request.args.get("before", "")[:40],
    )
    choices = review.queue_choices(current_user)
    reminders = review.reminders(current_user, REMINDERS_SHOWN)
    if len(reminders) < REMINDERS_SHOWN:  # all the unread ones: the navigation's count too
        g.reviewer_unread_reminders = len(reminders)
    # the query string of this view of the queue, without the page boundary
    kept = {
        "status": filters["status"],
        "item": filters["item_id"] or "",
        "step": filters["step"],
        "due": filters["due"],
        "sort": filters["sort"],
    }
    kept = {k: v for k, v in kept.items() if v and not (k == "sort" and v == "due")}
    labels = labels_in_locale(STATE_LABELS)  # translated once per language
    return render_template(
        "review/queue.html",
        page=page,
        rows=page.rows,
        filters=filters,
        kept=kept,
        other_than_status={k: v for k, v in kept.items() if k != "status"},
        page_size=review.PAGE_SIZE,
        state_labels=[(s, labels[s]) for s in STAFF_OPEN_STATES],
        item_options=_item_options(choices, filters["item_id"]),
        steps=choices.steps,
        department=choices.department,
        reminders=reminders,
    )


def _item_options(choices: review.QueueChoices, chosen: int | None) -> Markup:
    """The item filter's options (a department has hundreds of items): rendered once per
    department and publish generation, the chosen one marked here."""
    html = cache.get_or_set_scoped(
        lambda: render_template("review/_item_options.html", items=choices.items),
        "review-item-options",
        current_user.department_id,
    )
    if chosen is not None:
        plain = f'<option value="{chosen}">'
        html = html.replace(plain, plain[:-1] + " selected>", 1)
    return Markup(html)  # nosec B704: rendered by the autoescaping template above


@bp.route("/messages")
def message_centre():
    """The reviewer's reminders (due soon, overdue, 视为受理, post-checks …) as messages."""
    return render_template(
        "apply/messages.html",
        messages=review.reminders(current_user, 100, include_read=True),
        titles=review.REMINDER_TITLES,
        read_endpoint="review.mark_reminders_read",
        case_endpoint="review.case",
    )


@bp.route("/reminders/read", methods=["POST"])
def mark_reminders_read():
    review.mark_reminders_read(current_user)
    return redirect(
        url_for(
            "review.message_centre" if request.form.get("back") == "messages" else "review.queue"
        )
    )


@bp.app_template_global()
def reviewer_unread_reminders() -> int:
    """The unread count the reviewer's navigation shows next to 消息 (the queue's list of
    them may have counted them already)."""
    if "reviewer_unread_reminders" in g:
        return g.reviewer_unread_reminders
    return review.unread_reminder_count(current_user)


def _revealed(case_id: int) -> bool:
    return case_id in session.get(REVEALED_KEY, [])


def _forms_for(view: review.CaseView, failed: tuple[str, object] | None = None) -> dict:
    forms = {}
    choices = [(str(u.id), u.display_name) for u in view.reviewers]
    for action in view.actions:
        form_class = ACTION_FORMS.get(action)
        if form_class is None:
            continue
        form = (
            failed[1]
            if failed and failed[0] == action
            else form_class(formdata=None, prefix=action)
        )
        if hasattr(form, "assignee_id"):
            empty = [SelectChoice("", _("（不变）"))] if action == "advance_step" else []
            form.assignee_id.choices = empty + [SelectChoice(v, label) for v, label in choices]
        forms[action] = form
    return forms


def render_case(
    case_id: int,
    *,
    failed: tuple[str, object] | None = None,
    verdict_forms: dict | None = None,
    correction_errors: dict | None = None,
    visit_form=None,
    revoke_form: tuple[int, RevokeForm] | None = None,
    status: int = 200,
):
    view = review.case_view(current_user, case_id, revealed=_revealed(case_id))
    licences = casework.licences_of(case_id)
    revoke_forms = {lic.id: RevokeForm(formdata=None, prefix=f"revoke{lic.id}") for lic in licences}
    if revoke_form is not None:
        revoke_forms[revoke_form[0]] = revoke_form[1]
    verdicts = {
        m.id: VerdictForm(
            formdata=None,
            prefix=f"v{m.id}",
            data={
                "verdict": m.verdict if m.verdict in workflow.VERDICTS else None,
                "reason": m.verdict_reason,
            },
        )
        for m in view.materials
    }
    verdicts.update(verdict_forms or {})
    return render_template(
        "review/case.html",
        view=view,
        app=view.app,
        forms=_forms_for(view, failed),
        verdict_forms=verdicts,
        correction_errors=correction_errors or {},
        correction_values=request.form if correction_errors else {},
        visit_form=visit_form or VisitForm(formdata=None, prefix="visit"),
        labels=workflow.TRANSITIONS,
        kind_labels=notices.KIND_LABELS,
        licences=licences,
        revoke_forms=revoke_forms,
        licence_outcome=lambda lic: elicences.licence_outcome(lic, clock.local_today()),
    ), status


@bp.route("/cases/<int:case_id>")
def case(case_id: int):
    return render_case(case_id)


@bp.route("/cases/<int:case_id>/reveal", methods=["POST"])
def reveal(case_id: int):
    review.reveal_personal_data(current_user, case_id)
    session[REVEALED_KEY] = [case_id, *[i for i in session.get(REVEALED_KEY, []) if i != case_id]][
        :20
    ]
    flash(_("已显示完整信息，本次查看已记录，申请人可以看到"), "success")
    return redirect(url_for("review.case", case_id=case_id))


@bp.route("/cases/<int:case_id>/actions/<action>", methods=["POST"])
def act(case_id: int, action: str):
    form_class = ACTION_FORMS.get(action)
    if form_class is None:
        abort(404)
    form = form_class(prefix=action)
    if hasattr(form, "assignee_id"):
        app = workflow.get_staff_case(current_user, case_id)
        form.assignee_id.choices = [SelectChoice("", "")] + [
            SelectChoice(str(u.id), u.display_name)
            for u in review.department_reviewers(app.department_id)
        ]
    if not form.validate():
        return render_case(case_id, failed=(action, form), status=422)
    params = {name: field.data for name, field in form._fields.items()}
    if params.get("assignee_id") == "":
        params.pop("assignee_id")
    return act_on_case(
        form,
        lambda: workflow.perform(current_user, case_id, action, _version(), **params),
        back=url_for("review.case", case_id=case_id),
        show_again=lambda: render_case(case_id, failed=(action, form), status=422),
        done=_("已完成：%(action)s", action=workflow.TRANSITIONS[action].label),
    )


@bp.route("/cases/<int:case_id>/licences/<int:licence_id>/revoke", methods=["POST"])
def revoke_licence(case_id: int, licence_id: int):
    """注销 an e-licence this case issued: a reviewer of the issuing department, with a reason."""
    workflow.get_staff_case(current_user, case_id)  # 404 for another department's case
    if licence_id not in {lic.id for lic in casework.licences_of(case_id)}:
        abort(404)
    form = RevokeForm(prefix=f"revoke{licence_id}")
    if not form.validate():
        return render_case(case_id, revoke_form=(licence_id, form), status=422)
    return act_on_case(
        form,
        lambda: elicences.revoke_elicence(current_user, licence_id, form.reason.data),
        back=url_for("review.case", case_id=case_id),
        show_again=lambda: render_case(case_id, revoke_form=(licence_id, form), status=422),
        done=_("证照已注销"),
    )


@bp.route("/cases/<int:case_id>/materials/<int:material_id>/verdict", methods=["POST"])
def verdict(case_id: int, material_id: int):
    form = VerdictForm(prefix=f"v{material_id}")
    back = url_for("review.case", case_id=case_id)
    if form.validate() and (
        done := save_form(
            form,
            lambda: workflow.set_material_verdict(
                current_user, case_id, material_id, form.verdict.data, form.reason.data or ""
            ),
            done=_("审核意见已保存"),
            to=back + f"#material-{material_id}",
            conflict_to=back,
        )
    ):
        return done
    return render_case(case_id, verdict_forms={material_id: form}, status=422)


@bp.route("/cases/<int:case_id>/materials/<int:material_id>/file")
def material_file(case_id: int, material_id: int):
    # the view is written to the applicant's data-use log; the boundary commits it with the access
    doc = review.material_document(current_user, case_id, material_id)
    if doc.storage_key is None or doc.content_type not in SAFE_TYPES:
        abort(404)
    return send_stored(
        doc.storage_key,
        content_type=doc.content_type,
        as_attachment=False,
        name=doc.original_filename or f"material-{material_id}",
    )


@bp.route("/cases/<int:case_id>/correction", methods=["POST"])
def correction(case_id: int):
    """一次性告知: every flagged field with its reason, plus every material marked 需补正."""
    view = review.case_view(current_user, case_id)
    fields = {
        q["key"]: request.form.get(f"r_{q['key']}", "")
        for q in view.app.item_version.questions or []
        if request.form.get(f"f_{q['key']}") == "y"
    }
    try:
        with attempt():
            workflow.perform(current_user, case_id, "request_correction", _version(), fields=fields)
    except ValidationError as exc:
        errors = {
            (f"r_{k[2:]}" if k.startswith("f_") else k or "items"): v for k, v in exc.errors.items()
        }
        return render_case(case_id, correction_errors=errors, status=422)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("review.case", case_id=case_id))
    flash(_("已一次性告知补正，补正材料通知书已发出"), "success")
    return redirect(url_for("review.case", case_id=case_id))


@bp.route("/cases/<int:case_id>/visits", methods=["POST"])
def record_visit(case_id: int):
    form = VisitForm(prefix="visit")
    if form.validate():
        app = workflow.get_staff_case(current_user, case_id)
        back = url_for("review.case", case_id=case_id)
        if done := save_form(
            form,
            lambda: visits.record_visit(app, current_user, form.kind.data, form.reason.data or ""),
            done=_("到场已登记"),
            to=back,
            conflict_to=back,
        ):
            return done
    return render_case(case_id, visit_form=form, status=422)


@bp.route("/cases/<int:case_id>/notices/<int:notice_id>")
def notice(case_id: int, notice_id: int):
    workflow.get_staff_case(current_user, case_id)
    return notice_response(notices.get_case_notice(case_id, notice_id))


@bp.route("/post-checks")
def post_checks():
    tasks = review.post_check_tasks(current_user)
    return render_template(
        "review/post_checks.html",
        tasks=tasks,
        cases=review.applications_by_id([t.application_id for t in tasks]),
        forms={t.id: PostCheckForm(formdata=None, prefix=f"p{t.id}") for t in tasks},
    )


@bp.route("/post-checks/<int:task_id>", methods=["POST"])
def post_check(task_id: int):
    form = PostCheckForm(prefix=f"p{task_id}")
    back = url_for("review.post_checks")
    if form.validate() and (
        done := save_form(
            form,
            lambda: workflow.record_post_check(
                current_user, task_id, form.outcome.data, form.note.data or ""
            ),
            done=_("核查结果已记录"),
            to=back,
            conflict_to=back,
        )
    ):
        return done
    tasks = review.post_check_tasks(current_user)
    if task_id not in {t.id for t in tasks}:
        abort(404)
    forms = {t.id: PostCheckForm(formdata=None, prefix=f"p{t.id}") for t in tasks}
    forms[task_id] = form
    return render_template(
        "review/post_checks.html",
        tasks=tasks,
        forms=forms,
        cases=review.applications_by_id([t.application_id for t in tasks]),
    ), 422
