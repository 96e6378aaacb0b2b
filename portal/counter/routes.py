"""The counter workstation: find or register the citizen, intake on their behalf, outcomes.

Thin views over services/counter.py. The citizen being served comes from the clerk's context
on the server, never from a URL: paths carry only case and notice ids, and personal data is
only ever POSTed."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from forms.counter import AgentForm, LookupForm, PickupForm, RegisterForm
from forms.review import ACTION_FORMS
from portal import personal_pages
from portal.apply.casework import CorrectionSide, correction_flow, correction_upload_flow
from portal.apply.routes import take_upload
from portal.auth.routes import safe_next
from portal.counter import bp
from portal.files import notice_response
from portal.form_flow import act_on_case, save_form
from portal.params import form_version, parse_int
from portal.transaction import attempt
from services import applications, case_access, counter, counter_intake, notices, workflow
from services.errors import Conflict, ValidationError

REVEALED_KEY = "counter_revealed"  # the context whose full personal data the clerk asked to see


def _revealed(served: counter.Served | None) -> bool:
    return served is not None and session.get(REVEALED_KEY) == served.context.id


def _workstation(
    *,
    lookup: LookupForm | None = None,
    register: RegisterForm | None = None,
    agent: AgentForm | None = None,
    status: int = 200,
):
    served = counter.served(current_user)
    if served is not None:  # the served citizen's data: not of the clerk's scopes
        personal_pages.skip()
    query = (request.args.get("q") or "").strip()[:40] if served else ""
    return render_template(
        "counter/workstation.html",
        served=served,
        revealed=_revealed(served),
        # the page shows the search for a citizen, or the one being served with the agent form
        lookup=lookup or (None if served else LookupForm(formdata=None, prefix="lookup")),
        register=register,
        agent=agent or (AgentForm(formdata=None, prefix="agent") if served else None),
        q=query,
        items=counter.search_items(query) if query else [],
    ), status


@bp.route("/")
@personal_pages.personal_page
def workstation():
    """The clerk's desk: the citizen being served now, or the search for the next one."""
    return _workstation()


@bp.route("/lookup", methods=["POST"])
def lookup():
    form = LookupForm(prefix="lookup")
    if not form.validate():
        return _workstation(lookup=form, status=422)
    try:
        with attempt():
            citizen = counter.lookup_citizen(current_user, form.query.data)
    except ValidationError as exc:
        form.apply_errors(exc)
        return _workstation(lookup=form, status=422)
    if citizen is None:  # not known yet: register on the spot, with what was typed
        register = RegisterForm(
            formdata=None, prefix="register", data=counter.registration_prefill(form.query.data)
        )
        flash(_("没有找到该办事群众，请当场登记实名信息"), "info")
        return _workstation(register=register)
    return redirect(url_for("counter.workstation"))


@bp.route("/register", methods=["POST"])
def register():
    form = RegisterForm(prefix="register")
    if form.validate() and (
        done := save_form(
            form,
            lambda: counter.register_walk_in(
                current_user,
                name=form.name.data,
                id_number=form.id_number.data,
                phone=form.phone.data,
                address=form.address.data or "",
            ),
            done=_("已登记，开始接待"),
            to=url_for("counter.workstation"),
        )
    ):
        return done
    return _workstation(register=form, status=422)


@bp.route("/reveal", methods=["POST"])
def reveal():
    ctx = counter.reveal_citizen(current_user)
    session[REVEALED_KEY] = ctx.id
    flash(_("已显示完整信息，本次查看已记录，办事群众可以看到"), "success")
    return redirect(safe_next(request.form.get("next")) or url_for("counter.workstation"))


@bp.route("/agent", methods=["POST"])
def agent():
    form = AgentForm(prefix="agent")
    if form.validate() and (
        done := save_form(
            form,
            lambda: counter.record_agent(
                current_user,
                name=form.name.data,
                id_number=form.id_number.data,
                phone=form.phone.data,
            ),
            done=_("已登记代理人，本次受理的办件须提交授权委托书"),
            to=url_for("counter.workstation"),
        )
    ):
        return done
    return _workstation(agent=form, status=422)


@bp.route("/agent/clear", methods=["POST"])
def clear_agent():
    counter.clear_agent(current_user)
    return redirect(url_for("counter.workstation"))


@bp.route("/next", methods=["POST"])
def next_citizen():
    """办理下一位: nothing of this citizen stays on the desk."""
    counter.end_context(current_user)
    session.pop(REVEALED_KEY, None)
    return redirect(url_for("counter.workstation"))


@bp.route("/intake", methods=["POST"])
def start_intake():
    app = counter.start_intake(current_user, request.form.get("item", ""))
    return redirect(url_for("counter.intake", draft_id=app.id))


def _intake_page(
    app,
    errors: dict[str, str] | None = None,
    typed: dict | None = None,
    status: int = 200,
    *,
    problems: list | None = None,
):
    """The intake page; after a post, with what the clerk typed (``typed``) rather than what
    is saved, so nothing typed is lost. The pre-check list shows only after a submit."""
    snapshot = applications.snapshot_materials(app)
    citizen = app.applicant
    typed = typed or {}
    if problems is None and request.args.get("checked"):  # just saved with 保存
        problems = applications.precheck(app, snapshot)
    values = typed["answers"] if "answers" in typed else applications.prefill(app, citizen)
    ctx = case_access.current_context(current_user)
    revealed = (
        ctx is not None
        and ctx.citizen_id == app.applicant_id
        and session.get(REVEALED_KEY) == ctx.id
    )
    return render_template(
        "counter/intake.html",
        app=app,
        version=app.item_version,
        errors=errors or {},
        answers={**(app.condition_answers or {}), **typed.get("conditions", {})},
        values=values,
        masked={} if revealed else counter_intake.masked_answers(app, values),
        chosen=typed.get("choices", {}),
        scan_values=_scan_values() if request.method == "POST" else {},
        rows=snapshot.rows(),
        problems=problems,
        authorisations=counter.authorisations_on_file(app) if app.agent_id else [],
        authorisation_type=counter.authorisation_type() if app.agent_id else None,
    ), status


def _typed(app, *, own_form: bool = False) -> dict | None:
    """What the clerk typed on the intake page, which every action on it posts (one form);
    None for a post that did not carry the page's form (unless it is the form's own save).
    An answer shown masked (取自实名信息) is not posted: it keeps the server's value."""
    if request.form.get("intake_form") != "1" and not own_form:
        return None
    version = app.item_version
    protected = counter_intake.protected_keys(app)
    typed = {
        "conditions": {
            q["key"]: request.form.get(f"c_{q['key']}", "")
            for q in version.condition_questions or []
        },
        "answers": {
            q["key"]: (
                request.form.getlist(f"q_{q['key']}")
                if q["type"] == "multiselect"
                else request.form.get(f"q_{q['key']}", None if q["key"] in protected else "")
            )
            for q in version.questions or []
        },
        "choices": {
            parse_int(k[2:]): v
            for k, v in request.form.items()
            if k.startswith("m_") and parse_int(k[2:]) is not None
        },
    }
    typed["answers"] = counter_intake.keep_protected(app, typed["answers"])
    return typed


def _scan_values(done: str = "") -> dict[str, str]:
    """Dates typed in the scan fields of materials not scanned by this action."""
    return {
        k: v
        for k, v in request.form.items()
        if v and k.endswith(("_issued_on", "_own_expiry")) and not k.startswith(f"{done}_")
    }


def _after_action(app, errors: dict[str, str], done: str, anchor: str):
    """After a scan or the 授权委托书: keep what the clerk typed, then back to the page; a
    redirect when everything typed is saved, else the page again with the typed values."""
    typed = _typed(app)
    left = {}
    if typed is not None:
        if not errors:
            typed["choices"].pop(parse_int(done[1:]), None)
        left = counter_intake.keep_typed(current_user, app.id, **typed)
    if not errors and not left and not _scan_values(done):
        return redirect(url_for("counter.intake", draft_id=app.id) + anchor)
    return _intake_page(
        counter.get_intake(current_user, app.id), errors, typed, 422 if errors else 200
    )


@bp.route("/intake/<int:draft_id>", methods=["GET", "POST"])
def intake(draft_id: int):
    """情形, 信息 and 材料 on one page, saved together."""
    app = counter.get_intake(current_user, draft_id)
    if request.method == "GET":
        return _intake_page(app)
    typed = _typed(app, own_form=True)
    try:
        with attempt():
            counter.save_intake(current_user, draft_id, **typed)
    except ValidationError as exc:
        return _intake_page(
            counter.get_intake(current_user, draft_id),
            exc.errors,
            typed,
            422,
            problems=_problems(exc.errors),
        )
    flash(_("已保存"), "success")
    return redirect(url_for("counter.intake", draft_id=draft_id, checked=1) + "#materials")


def _problems(errors: dict[str, str]) -> list[dict[str, str]]:
    return [{"field": field, "message": message} for field, message in errors.items()]


@bp.route("/intake/<int:draft_id>/materials/<int:requirement_id>/scan", methods=["POST"])
def scan(draft_id: int, requirement_id: int):
    """扫描或拍照: into the citizen's library, used for this material (the online upload handler)."""
    app = counter.get_intake(current_user, draft_id)
    errors = take_upload(
        f"u{requirement_id}",
        lambda **upload: applications.upload_for(current_user, app, requirement_id, **upload),
    )
    return _after_action(app, errors, f"u{requirement_id}", f"#m_{requirement_id}")


@bp.route("/intake/<int:draft_id>/authorisation", methods=["POST"])
def authorisation(draft_id: int):
    """授权委托书 of a case an agent brought: one already in the library, or a new scan."""
    app = counter.get_intake(current_user, draft_id)
    chosen = request.form.get("document", "")
    errors: dict[str, str] = {}
    if parse_int(chosen) is not None and request.form.get("action") != "scan":
        try:
            with attempt():
                counter.attach_authorisation(current_user, draft_id, document_id=parse_int(chosen))
        except ValidationError as exc:
            errors = exc.errors
        else:
            flash(_("授权委托书已登记"), "success")
    else:
        errors = take_upload(
            counter.AUTHORISATION_FIELD,
            lambda **upload: counter.attach_authorisation(current_user, draft_id, **upload),
        )
    return _after_action(app, errors, counter.AUTHORISATION_FIELD, "#authorisation")


@bp.route("/intake/<int:draft_id>/submit", methods=["POST"])
def submit(draft_id: int):
    app = counter.get_intake(current_user, draft_id)
    typed = _typed(app)
    token = request.form.get("token", "")
    try:
        with attempt():
            if typed is None:
                app = counter.submit_intake(current_user, draft_id, token)
            else:
                app = counter_intake.submit_typed(current_user, draft_id, token, **typed)
    except ValidationError as exc:
        return _intake_page(
            counter.get_intake(current_user, draft_id),
            exc.errors,
            typed,
            422,
            problems=_problems(exc.errors),
        )
    flash(_("已提交，办件编号 %(number)s", number=app.number), "success")
    return redirect(url_for("counter.case", case_id=app.id))


def _version() -> int:
    return form_version()


def _case_page(
    case_id: int,
    forms: dict | None = None,
    correction_errors: dict | None = None,
    status: int = 200,
):
    view = counter.case_view(current_user, case_id)
    made = {}
    for action in view.actions:
        if action == "request_correction":
            continue
        form_class = PickupForm if action == "pickup" else ACTION_FORMS[action]
        made[action] = form_class(formdata=None, prefix=action)
    made.update(forms or {})
    return render_template(
        "counter/case.html",
        view=view,
        app=view.app,
        forms=made,
        labels=workflow.TRANSITIONS,
        kind_labels=notices.KIND_LABELS,
        correction_errors=correction_errors or {},
        correction_values=request.form if correction_errors else {},
    ), status


@bp.route("/cases/<int:case_id>")
def case(case_id: int):
    return _case_page(case_id)


@bp.route("/cases/<int:case_id>/materials/<int:material_id>/original", methods=["POST"])
def original_checked(case_id: int, material_id: int):
    try:
        with attempt():
            counter.check_original(
                current_user, case_id, material_id, request.form.get("visit_reason", "")
            )
    except (ValidationError, Conflict) as exc:
        flash(exc.message, "error")
    else:
        flash(_("原件已核验，该材料在办事群众的材料库中升为已核验"), "success")
    return redirect(url_for("counter.case", case_id=case_id) + f"#material-{material_id}")


@bp.route("/cases/<int:case_id>/actions/<action>", methods=["POST"])
def act(case_id: int, action: str):
    if action not in counter.COUNTER_ACTIONS or action == "request_correction":
        abort(404)
    form = (PickupForm if action == "pickup" else ACTION_FORMS[action])(prefix=action)
    if not form.validate():
        return _case_page(case_id, forms={action: form}, status=422)
    params = {name: f.data for name, f in form._fields.items()}
    return act_on_case(
        form,
        lambda: counter.decide(current_user, case_id, action, _version(), **params),
        back=url_for("counter.case", case_id=case_id),
        show_again=lambda: _case_page(case_id, forms={action: form}, status=422),
        done=_("已完成：%(action)s", action=workflow.TRANSITIONS[action].label),
        anchor="#notices",
    )


@bp.route("/cases/<int:case_id>/correction", methods=["POST"])
def correction(case_id: int):
    """一次性告知: every defective field and material, each with its reason, in one notice."""
    view = counter.case_view(current_user, case_id)
    fields = {
        q["key"]: request.form.get(f"r_{q['key']}", "")
        for q in view.app.item_version.questions or []
        if request.form.get(f"f_{q['key']}") == "y"
    }
    materials = {
        m.requirement_id: request.form.get(f"mr_{m.requirement_id}", "")
        for m in view.materials
        if request.form.get(f"mf_{m.requirement_id}") == "y"
    }
    try:
        with attempt():
            counter.decide(
                current_user,
                case_id,
                "request_correction",
                _version(),
                fields=fields,
                materials=materials,
            )
    except ValidationError as exc:
        errors = {
            (
                f"r_{k[2:]}"
                if k.startswith("f_")
                else f"mr_{k[2:]}"
                if k.startswith("m_")
                else k or "items"
            ): v
            for k, v in exc.errors.items()
        }
        return _case_page(case_id, correction_errors=errors, status=422)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("counter.case", case_id=case_id))
    flash(_("已一次性告知补正，请打印补正材料通知书交给办事群众"), "success")
    return redirect(url_for("counter.case", case_id=case_id) + "#notices")


@bp.route("/cases/<int:case_id>/notices/<int:notice_id>")
def notice(case_id: int, notice_id: int):
    return notice_response(counter.case_notice(current_user, case_id, notice_id))


COUNTER_SIDE = CorrectionSide(
    page="counter.resubmit",
    upload="counter.resubmit_upload",
    case="counter.case",
    done=_l("补正材料已收取并重新提交，部门将继续预审"),
    perform=counter.resubmit_correction,
)


@bp.route("/cases/<int:case_id>/resubmit", methods=["GET", "POST"])
def resubmit(case_id: int):
    """The walk-in brings the corrected items: the same locked correction page as online."""
    return correction_flow(case_id, COUNTER_SIDE)


@bp.route("/cases/<int:case_id>/resubmit/materials/<int:requirement_id>/upload", methods=["POST"])
def resubmit_upload(case_id: int, requirement_id: int):
    return correction_upload_flow(case_id, requirement_id, COUNTER_SIDE)
