"""一件事 applications: the same four steps over a whole life event."""

from __future__ import annotations

from types import SimpleNamespace

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.apply import bp
from portal.apply.routes import STEPS, take_upload
from portal.extensions import db
from portal.models import Application, Bundle
from portal.params import parse_int
from portal.transaction import attempt
from services import bundle_applications as svc
from services.errors import ValidationError


def bundle_context(parent: Application, step: str) -> dict:
    conditions = svc.merge_questions(parent.children, "condition")
    questions = svc.merge_questions(parent.children, "form")
    departments = "、".join(dict.fromkeys(c.item_version.department.name for c in parent.children))
    version = SimpleNamespace(
        name=parent.bundle.name,
        commitment_text="",
        condition_questions=[m.question for m in conditions],
        questions=[m.question for m in questions],
    )
    return {
        "app": parent,
        "version": version,
        "step": step,
        "step_prefix": "apply.bundle_",
        "departments": departments,
        "merged_conditions": conditions,
        "merged_questions": questions,
        "step_no": STEPS.index(step) + 1,
        "step_total": len(STEPS),
        "steps": STEPS,
    }


def published_bundle(code: str) -> Bundle:
    bundle = db.session.scalar(select(Bundle).where(Bundle.code == code))
    if bundle is None or not bundle.published:
        abort(404)
    return bundle


@bp.route("/apply/bundle/<code>")
def bundle_start(code: str):
    bundle = published_bundle(code)
    draft = db.session.scalar(
        select(Application).where(
            Application.bundle_id == bundle.id,
            Application.applicant_id == current_user.citizen_id,
            Application.status == svc.DRAFT,
        )
    )
    return render_template("apply/bundle_start.html", bundle=bundle, draft=draft)


@bp.route("/apply/bundle/<code>/start", methods=["POST"])
def bundle_create(code: str):
    parent = svc.start_bundle_draft(
        actor=current_user, applicant=current_user.citizen, bundle=published_bundle(code)
    )
    return redirect(url_for("apply.bundle_conditions", draft_id=parent.id))


@bp.route("/apply/bundles/<int:draft_id>/conditions", methods=["GET", "POST"])
def bundle_conditions(draft_id: int):
    parent = svc.load_parent(current_user, draft_id)
    errors, answers = {}, dict(parent.condition_answers or {})
    if request.method == "POST":
        answers = {k[2:]: v for k, v in request.form.items() if k.startswith("c_")}
        try:
            with attempt():
                svc.save_bundle_conditions(parent, answers)
        except ValidationError as exc:
            errors = exc.errors
        else:
            return redirect(url_for("apply.bundle_form", draft_id=parent.id))
    return render_template(
        "apply/conditions.html",
        answers=answers,
        errors=errors,
        **bundle_context(parent, "conditions"),
    ), (422 if errors else 200)


@bp.route("/apply/bundles/<int:draft_id>/form", methods=["GET", "POST"])
def bundle_form(draft_id: int):
    parent = svc.load_parent(current_user, draft_id)
    context = bundle_context(parent, "form")
    errors, values = {}, svc.bundle_prefill(parent, current_user.citizen)
    if request.method == "POST":
        raw = {
            m.key: (
                request.form.getlist(f"q_{m.key}")
                if m.question["type"] == "multiselect"
                else request.form.get(f"q_{m.key}", "")
            )
            for m in context["merged_questions"]
        }
        try:
            with attempt():
                svc.save_bundle_form(parent, raw)
        except ValidationError as exc:
            errors, values = exc.errors, raw
        else:
            return redirect(url_for("apply.bundle_materials", draft_id=parent.id))
    return render_template(
        "apply/form.html", values=values, errors=errors, autosave=False, **context
    ), (422 if errors else 200)


@bp.route("/apply/bundles/<int:draft_id>/materials", methods=["GET", "POST"])
def bundle_materials(draft_id: int):
    parent = svc.load_parent(current_user, draft_id)
    errors = {}
    if request.method == "POST":
        choices = {}
        for key, value in request.form.items():
            if key.startswith("t_") and parse_int(key[2:]) is not None:
                choices[parse_int(key[2:])] = value
        try:
            with attempt():
                svc.choose_bundle_materials(parent, choices, current_user.citizen)
        except ValidationError as exc:
            errors = exc.errors
        else:
            return redirect(url_for("apply.bundle_confirm", draft_id=parent.id))
    return render_template(
        "apply/bundle_materials.html",
        rows=svc.material_rows(parent),
        errors=errors,
        **bundle_context(parent, "materials"),
    ), (422 if errors else 200)


@bp.route("/apply/bundles/<int:draft_id>/materials/<int:type_id>/upload", methods=["POST"])
def bundle_upload(draft_id: int, type_id: int):
    """One upload for a material type, used by every item of the life event that needs it."""
    parent = svc.load_parent(current_user, draft_id)
    errors = take_upload(
        f"u{type_id}",
        lambda **upload: svc.upload_for_bundle(current_user, parent, type_id, **upload),
    )
    if not errors:
        return redirect(url_for("apply.bundle_materials", draft_id=parent.id) + f"#t_{type_id}")
    return render_template(
        "apply/bundle_materials.html",
        rows=svc.material_rows(parent),
        errors=errors,
        **bundle_context(parent, "materials"),
    ), 422


def confirm_rows(parent: Application) -> list[dict]:
    return [
        {"requirement": {"material_type": row.material_type}, "material": row.material}
        for row in svc.material_rows(parent)
    ]


@bp.route("/apply/bundles/<int:draft_id>/confirm")
def bundle_confirm(draft_id: int):
    parent = svc.load_parent(current_user, draft_id)
    return render_template(
        "apply/confirm.html",
        problems=svc.precheck_bundle(parent),
        rows=confirm_rows(parent),
        reuse=svc.reuse_count(parent),
        **bundle_context(parent, "confirm"),
    )


@bp.route("/apply/bundles/<int:draft_id>/submit", methods=["POST"])
def bundle_submit(draft_id: int):
    if request.form.get("consent") != "y":
        parent = svc.load_parent(current_user, draft_id)
        return render_template(
            "apply/confirm.html",
            problems=svc.precheck_bundle(parent),
            rows=confirm_rows(parent),
            reuse=svc.reuse_count(parent),
            consent_error=_("请阅读并同意数据使用说明"),
            **bundle_context(parent, "confirm"),
        ), 422
    try:
        with attempt():
            parent = svc.submit_bundle(current_user, draft_id, request.form.get("token", ""))
    except ValidationError:
        flash(_("还有材料或信息需要补充，请按提示修改"), "error")
        return redirect(url_for("apply.bundle_confirm", draft_id=draft_id))
    flash(_("提交成功，办件编号 %(number)s", number=parent.number), "success")
    return redirect(url_for("apply.case", case_id=parent.id))
