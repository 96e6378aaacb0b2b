"""Thin views over services.applications; every step saves the draft on the server."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from forms.proxies import AuthoriseForm
from portal.apply import bp
from portal.extensions import db
from portal.models import Application, ServiceItem
from portal.params import parse_int
from portal.personal_pages import personal_page
from portal.transaction import attempt
from services import applications as svc
from services import casework, messages, notices, proxies, ratings, workflow
from services.errors import ValidationError
from services.materials import apply_choice, parse_choice, reuse_count
from services.visits import VISIT_KINDS

STEPS = ("conditions", "form", "materials", "confirm")


def step_context(app: Application, step: str) -> dict:
    return {
        "app": app,
        "version": app.item_version,
        "step": step,
        "step_prefix": "apply.",
        "departments": app.item_version.department.name,
        "step_no": STEPS.index(step) + 1,
        "step_total": len(STEPS),
        "steps": STEPS,
    }


def published_item(code: str) -> ServiceItem:
    item = db.session.scalar(
        select(ServiceItem)
        .where(ServiceItem.code == code)
        .options(selectinload(ServiceItem.published_version))
    )
    if item is None or item.published_version is None:
        abort(404)
    return item


@bp.route("/apply/<code>")
def start(code: str):
    item = published_item(code)
    draft = svc.open_draft(current_user.citizen_id, item.published_version_id)
    return render_template(
        "apply/start.html",
        item=item,
        version=item.published_version,
        draft=draft,
        principals=proxies.principals_of(current_user),
    )


@bp.route("/apply/<code>/start", methods=["POST"])
def create_draft(code: str):
    item = published_item(code)
    applicant = current_user.citizen
    on_behalf = request.form.get("applicant", "")
    if on_behalf and on_behalf != str(current_user.citizen_id):
        applicant = next(
            (c for c in proxies.principals_of(current_user) if str(c.id) == on_behalf), None
        )
        if applicant is None:
            abort(404)
    app = svc.start_draft(actor=current_user, applicant=applicant, item=item)
    return redirect(url_for("apply.conditions", draft_id=app.id))


@bp.route("/apply/drafts/<int:draft_id>/conditions", methods=["GET", "POST"])
def conditions(draft_id: int):
    app = svc.get_own_draft(current_user, draft_id)
    errors: dict[str, str] = {}
    answers = dict(app.condition_answers or {})
    if request.method == "POST":
        answers = {
            q["key"]: request.form.get(f"c_{q['key']}", "")
            for q in app.item_version.condition_questions
        }
        try:
            with attempt():
                svc.save_conditions(app, answers)
        except ValidationError as exc:
            errors = exc.errors
        else:
            return redirect(url_for("apply.form", draft_id=app.id))
    return render_template(
        "apply/conditions.html", answers=answers, errors=errors, **step_context(app, "conditions")
    ), (422 if errors else 200)


@bp.route("/apply/drafts/<int:draft_id>/form", methods=["GET", "POST"])
def form(draft_id: int):
    app = svc.get_own_draft(current_user, draft_id)
    errors: dict[str, str] = {}
    values = svc.prefill(app, current_user.citizen)
    if request.method == "POST":
        raw = {
            q["key"]: (
                request.form.getlist(f"q_{q['key']}")
                if q["type"] == "multiselect"
                else request.form.get(f"q_{q['key']}", "")
            )
            for q in app.item_version.questions
        }
        try:
            with attempt():
                svc.save_form(app, raw)
        except ValidationError as exc:
            errors, values = exc.errors, raw
        else:
            return redirect(url_for("apply.materials", draft_id=app.id))
    return render_template(
        "apply/form.html", values=values, errors=errors, **step_context(app, "form")
    ), (422 if errors else 200)


@bp.route("/apply/drafts/<int:draft_id>/autosave", methods=["POST"])
def autosave(draft_id: int):
    """Periodic autosave of a long form: keeps every valid answer, reports the rest."""
    app = svc.get_own_draft(current_user, draft_id)
    raw = {
        q["key"]: (
            request.form.getlist(f"q_{q['key']}")
            if q["type"] == "multiselect"
            else request.form.get(f"q_{q['key']}")
        )
        for q in app.item_version.questions
        if f"q_{q['key']}" in request.form
    }
    svc.save_form(app, raw, partial=True)
    return jsonify(saved=True, at=app.updated_at.isoformat())


@bp.route("/apply/drafts/<int:draft_id>/materials", methods=["GET", "POST"])
def materials(draft_id: int):
    app = svc.get_own_draft(current_user, draft_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            with attempt():
                svc.sync_materials(app)
                for material in app.materials:
                    try:
                        choice = parse_choice(request.form.get(f"m_{material.requirement_id}"))
                    except ValidationError:
                        abort(400)
                    if choice is not None:
                        apply_choice(app, material.requirement_id, choice, current_user.citizen)
        except ValidationError as exc:
            errors = exc.errors
        else:
            return redirect(url_for("apply.confirm", draft_id=app.id))
    return render_template(
        "apply/materials.html",
        rows=svc.snapshot_materials(app).rows(),
        errors=errors,
        **step_context(app, "materials"),
    ), (422 if errors else 200)


def _date_field(name: str, errors: dict[str, str], prefix: str):
    raw = (request.form.get(f"{prefix}_{name}") or request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[f"{prefix}_{'valid_until' if name == 'own_expiry' else name}"] = _(
            "请按 年-月-日 填写日期"
        )
        return None


def take_upload(prefix: str, store, done_message: str | None = None) -> dict[str, str]:
    """Read an upload form (file, issue date, own expiry), hand it to ``store``;
    returns the field errors, empty when the file was stored. The fields are ``file`` … or,
    where one form holds several uploads (the counter's intake page), ``<prefix>_file`` …"""
    errors: dict[str, str] = {}
    issued_on = _date_field("issued_on", errors, prefix)
    own_expiry = _date_field("own_expiry", errors, prefix)
    if errors:
        return errors
    upload = request.files.get(f"{prefix}_file") or request.files.get("file")
    try:
        with attempt():
            store(
                data=upload.read() if upload else b"",
                filename=upload.filename if upload else None,
                issued_on=issued_on,
                own_expiry=own_expiry,
            )
    except ValidationError as exc:
        return exc.errors
    flash(done_message or _("已上传，并用于本次申请"), "success")
    return {}


@bp.route("/apply/drafts/<int:draft_id>/materials/<int:requirement_id>/upload", methods=["POST"])
def upload_material(draft_id: int, requirement_id: int):
    """Upload a file for one material: it joins the applicant's library and is used here."""
    app = svc.get_own_draft(current_user, draft_id)
    errors = take_upload(
        f"u{requirement_id}",
        lambda **upload: svc.upload_for(current_user, app, requirement_id, **upload),
    )
    if not errors:
        return redirect(url_for("apply.materials", draft_id=app.id) + f"#m_{requirement_id}")
    return render_template(
        "apply/materials.html",
        rows=svc.snapshot_materials(app).rows(),
        errors=errors,
        **step_context(app, "materials"),
    ), 422


@bp.route("/apply/drafts/<int:draft_id>/confirm")
def confirm(draft_id: int):
    app = svc.get_own_draft(current_user, draft_id)
    snapshot = svc.snapshot_materials(app)
    return render_template(
        "apply/confirm.html",
        problems=svc.precheck(app, snapshot),
        rows=snapshot.rows(),
        reuse=reuse_count(app.materials),
        **step_context(app, "confirm"),
    )


@bp.route("/apply/drafts/<int:draft_id>/submit", methods=["POST"])
def submit(draft_id: int):
    if request.form.get("consent") != "y":
        app = svc.get_own_draft(current_user, draft_id)
        snapshot = svc.snapshot_materials(app)
        return render_template(
            "apply/confirm.html",
            problems=svc.precheck(app, snapshot),
            rows=snapshot.rows(),
            reuse=reuse_count(app.materials),
            consent_error=_("请阅读并同意数据使用说明"),
            **step_context(app, "confirm"),
        ), 422
    try:
        with attempt():
            app = svc.submit_application(current_user, draft_id, request.form.get("token", ""))
    except ValidationError:
        flash(_("还有材料或信息需要补充，请按提示修改"), "error")
        return redirect(url_for("apply.confirm", draft_id=draft_id))
    flash(_("提交成功，办件编号 %(number)s", number=app.number), "success")
    return redirect(url_for("apply.case", case_id=app.id))


@bp.route("/cases")
@personal_page
def cases():
    after = request.args.get("after", "")[:40]
    page = svc.own_cases(current_user, after=after)
    return render_template(
        "apply/cases.html", cases=page.rows, next_cursor=page.next_cursor, paged=bool(after)
    )


@bp.route("/apply/drafts/<int:draft_id>/delete", methods=["POST"])
def delete_draft(draft_id: int):
    svc.delete_draft(current_user, draft_id)
    flash(_("草稿已删除"), "success")
    return redirect(url_for("apply.cases"))


@bp.route("/cases/<int:case_id>")
@personal_page
def case(case_id: int):
    app = svc.get_own_application(current_user, case_id)
    if app.status == svc.DRAFT:
        return redirect(url_for("apply.conditions", draft_id=app.id))
    return render_case(app)


def render_case(app: Application, failed: tuple[int, object] | None = None):
    """The citizen's case page; ``failed`` is (visit number, its rating form with errors)."""
    from forms.review import VisitRatingForm

    page = casework.case_page(current_user, app)
    visit_forms = {
        v.number: (
            failed[1]
            if failed and failed[0] == v.number
            else VisitRatingForm(prefix=f"v{v.number}", formdata=None)
        )
        for v, given in page.visits
        if given is None
    }
    return render_template(
        "apply/case.html",
        app=app,
        materials=page.materials,
        children=page.children,
        merged_materials=page.merged_materials,
        events=page.events,
        notices=page.notices,
        kind_labels=notices.KIND_LABELS,
        summaries=page.summaries,
        correction=page.correction,
        licences=page.licences,
        rating=page.rating,
        can_rate=page.can_rate,
        scores=ratings.SCORES,
        visits=page.visits,
        visit_forms=visit_forms,
        visit_kinds=VISIT_KINDS,
        withdrawable=workflow.TRANSITIONS["withdraw"].sources,
    ), (422 if failed else 200)


@bp.route("/cases/<int:case_id>/withdraw", methods=["POST"])
def withdraw(case_id: int):
    version = request.form.get("version", "")
    app = svc.withdraw_application(
        current_user,
        case_id,
        request.form.get("reason", ""),
        parse_int(version),
    )
    kept = workflow.kept_children(app)
    flash(_("办件已撤回"), "success")
    if kept:
        flash(
            _(
                "以下分项办件已作出决定，不能撤回，将按决定继续办理：%(items)s",
                items="；".join(f"{c.title}（{c.number}）" for c in kept),
            ),
            "info",
        )
    return redirect(url_for("apply.case", case_id=case_id))


@bp.route("/messages")
def message_centre():
    return render_template("apply/messages.html", messages=messages.list_messages(current_user))


@bp.route("/messages/read", methods=["POST"])
def mark_messages_read():
    messages.mark_all_read(current_user)
    return redirect(url_for("apply.message_centre"))


@bp.route("/proxies", methods=["GET", "POST"])
def proxies_page():
    form = AuthoriseForm()
    if form.validate_on_submit():
        try:
            with attempt():
                proxies.authorise_agent(
                    current_user,
                    agent_phone=form.agent_phone.data,
                    valid_until=form.valid_until.data,
                )
        except ValidationError as exc:
            form.apply_errors(exc)
        else:
            flash(_("已授权，对方登录后即可为您代办"), "success")
            return redirect(url_for("apply.proxies_page"))
    return render_template(
        "apply/proxies.html",
        form=form,
        given=proxies.given_by(current_user),
        principals=proxies.principals_of(current_user),
    ), (422 if form.errors else 200)


@bp.route("/proxies/<int:authorisation_id>/revoke", methods=["POST"])
def revoke_proxy(authorisation_id: int):
    proxies.revoke_authorisation(current_user, authorisation_id)
    flash(_("授权已撤销"), "success")
    return redirect(url_for("apply.proxies_page"))
