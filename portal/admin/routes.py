"""Thin views over services.catalogue: parse the form, call one service, flash, redirect."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from forms.admin import (
    BLANK_ROWS,
    ApplicationFormForm,
    BundleForm,
    DepartmentCreateForm,
    DepartmentForm,
    DiffForm,
    GuideForm,
    ItemCreateForm,
    LockedActionForm,
    MaterialTypeCreateForm,
    MaterialTypeForm,
    MoveForm,
    RequirementForm,
    SearchForm,
)
from portal.admin import bp
from portal.extensions import db
from portal.form_flow import form_status, save_form
from portal.models import Bundle, Department, ItemVersion, MaterialType, Theme, User
from portal.params import arg_int
from portal.transaction import attempt
from services import calendar_admin, catalogue, halls
from services.errors import Conflict, NotFound, ValidationError


def _admin() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _page() -> int:
    return arg_int("page", lo=1, hi=100000) or 1


def _get(model, object_id: int):
    obj = db.session.get(model, object_id)
    if obj is None:
        raise NotFound(_("没有找到您要的内容"))
    return obj


# ---------------------------------------------------------------------------- home


@bp.route("/")
def index():
    return render_template(
        "admin/index.html",
        counts={**catalogue.count_catalogue(), **halls.operations_counts()},
        in_review=catalogue.list_versions_in_review(),
        calendar_warnings=[
            (year, calendar_admin.missing_schedule_message(year))
            for year in calendar_admin.missing_schedule_years()
        ],
    )


# ---------------------------------------------------------------------------- departments


@bp.route("/departments")
def departments():
    return render_template("admin/departments.html", rows=catalogue.list_departments())


@bp.route("/departments/new", methods=["GET", "POST"])
def department_new():
    form = DepartmentCreateForm()
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: catalogue.create_department(
                code=form.code.data,
                name=form.name.data,
                phone=form.phone.data or "",
                address=form.address.data or "",
                hours=form.hours.data or "",
                actor=_admin(),
            ),
            done=lambda dept: _("已新增部门：%(name)s", name=dept.name),
            to=url_for("admin.departments"),
        )
    ):
        return done
    return render_template("admin/department_form.html", form=form, dept=None), form_status(form)


@bp.route("/departments/<int:dept_id>/edit", methods=["GET", "POST"])
def department_edit(dept_id: int):
    dept = _get(Department, dept_id)
    form = DepartmentForm(obj=dept)
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: catalogue.update_department(
                dept,
                name=form.name.data,
                phone=form.phone.data or "",
                address=form.address.data or "",
                hours=form.hours.data or "",
                actor=_admin(),
            ),
            done=lambda _r: _("已保存部门：%(name)s", name=dept.name),
            to=url_for("admin.departments"),
        )
    ):
        return done
    return render_template("admin/department_form.html", form=form, dept=dept), form_status(form)


@bp.route("/departments/<int:dept_id>/active", methods=["POST"])
def department_active(dept_id: int):
    dept = _get(Department, dept_id)
    active = request.form.get("active") == "1"
    catalogue.set_department_active(dept, active=active, actor=_admin())
    flash(
        _("已启用部门：%(name)s", name=dept.name)
        if active
        else _("已停用部门：%(name)s", name=dept.name),
        "success",
    )
    return redirect(url_for("admin.departments"))


@bp.route("/departments/<int:dept_id>/delete", methods=["POST"])
def department_delete(dept_id: int):
    dept = _get(Department, dept_id)
    name = dept.name
    try:
        with attempt():
            catalogue.delete_department(dept, actor=_admin())
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash(_("已删除部门：%(name)s", name=name), "success")
    return redirect(url_for("admin.departments"))


# ---------------------------------------------------------------------------- material types


def _upload(field) -> catalogue.Upload | None:
    storage = field.data
    if not storage or not getattr(storage, "filename", ""):
        return None
    return catalogue.Upload(data=storage.read(), filename=storage.filename)


def _material_values(form) -> dict[str, Any]:
    return {
        "name": form.name.data,
        "category": form.category.data or "",
        "description": form.description.data or "",
        "source": form.source.data,
        "licence_type_code": form.licence_type_code.data,
        "validity_kind": form.validity_kind.data,
        "validity_months": form.validity_months.data,
        "blank_form": _upload(form.blank_form),
        "example": _upload(form.example),
    }


@bp.route("/materials")
def material_types():
    search = SearchForm(request.args)
    query = search.q.data if search.validate() else ""
    page = catalogue.list_material_types(query or "", _page())
    return render_template("admin/material_types.html", page=page, search=search, query=query)


@bp.route("/materials/new", methods=["GET", "POST"])
def material_type_new():
    form = MaterialTypeCreateForm()
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: catalogue.create_material_type(
                code=form.code.data, actor=_admin(), **_material_values(form)
            ),
            done=lambda mt: _("已新增材料类型：%(name)s", name=mt.name),
            to=url_for("admin.material_types"),
        )
    ):
        return done
    return render_template("admin/material_type_form.html", form=form, mt=None), form_status(form)


@bp.route("/materials/<int:type_id>/edit", methods=["GET", "POST"])
def material_type_edit(type_id: int):
    mt = _get(MaterialType, type_id)
    form = MaterialTypeForm(obj=mt)
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: catalogue.update_material_type(mt, actor=_admin(), **_material_values(form)),
            done=lambda _r: _("已保存材料类型：%(name)s", name=mt.name),
            to=url_for("admin.material_types"),
        )
    ):
        return done
    return render_template("admin/material_type_form.html", form=form, mt=mt), form_status(form)


# ---------------------------------------------------------------------------- items


def _department_choices(include_id: int | None = None) -> list[SelectChoice]:
    return [
        SelectChoice(str(d.id), f"{d.name}（{d.code}）" + ("" if d.active else _("，已停用")))
        for d in catalogue.list_active_departments(include_id)
    ]


@bp.route("/items")
def items():
    search = SearchForm(request.args)
    query = search.q.data if search.validate() else ""
    page = catalogue.list_items(query or "", _page())
    return render_template(
        "admin/items.html",
        page=page,
        search=search,
        query=query,
        status_labels=catalogue.STATUS_LABELS,
    )


@bp.route("/items/new", methods=["GET", "POST"])
def item_new():
    form = ItemCreateForm()
    form.department_id.choices = _department_choices()
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: catalogue.create_item(
                code=form.code.data,
                department=db.session.get(Department, form.department_id.data),
                actor=_admin(),
                guide={
                    "name": form.name.data,
                    "item_type": form.item_type.data,
                    "audience": form.audience.data,
                },
                requirements=[],
                themes=[],
            ),
            done=_("已创建事项草稿，请继续填写办事指南"),
            to=lambda version: url_for("admin.version_edit", version_id=version.id),
        )
    ):
        return done
    return render_template("admin/item_new.html", form=form), form_status(form)


@bp.route("/items/<int:item_id>")
def item(item_id: int):
    item = catalogue.load_item(item_id)
    diff_form = DiffForm(formdata=None)
    _diff_choices(diff_form, item)
    return render_template(
        "admin/item.html", item=item, diff_form=diff_form, status_labels=catalogue.STATUS_LABELS
    )


def _diff_choices(form: DiffForm, item) -> None:
    versions = sorted(item.versions, key=lambda v: v.number)
    options = [
        SelectChoice(
            str(v.id),
            _("第 %(n)d 版（%(status)s）", n=v.number, status=catalogue.STATUS_LABELS[v.status]),
        )
        for v in versions
    ]
    form.a.choices = options
    form.b.choices = options
    if form.a.data is None and versions:
        form.a.data = versions[-2].id if len(versions) > 1 else versions[-1].id
    if form.b.data is None and versions:
        form.b.data = versions[-1].id


@bp.route("/items/<int:item_id>/diff")
def item_diff(item_id: int):
    item = catalogue.load_item(item_id)
    form = DiffForm(request.args if request.args else None)
    _diff_choices(form, item)
    changes = None
    old = new = None
    if form.validate():
        old = catalogue.load_version(form.a.data)
        new = catalogue.load_version(form.b.data)
        changes = catalogue.diff_versions(old, new)
    status = 422 if form.errors else 200
    return render_template(
        "admin/diff.html",
        item=item,
        form=form,
        changes=changes,
        old=old,
        new=new,
        status_labels=catalogue.STATUS_LABELS,
    ), status


@bp.route("/items/<int:item_id>/archive", methods=["POST"])
def item_archive(item_id: int):
    item = catalogue.load_item(item_id)
    try:
        with attempt():
            catalogue.archive_item(item, actor=_admin())
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.item", item_id=item_id))
    flash(_("事项已下线：%(code)s", code=item.code), "success")
    return redirect(url_for("admin.item", item_id=item.id))


# ---------------------------------------------------------------------------- versions


def _render_version(version: ItemVersion, errors: dict[str, str] | None = None, status: int = 200):
    checks = catalogue.publish_errors(version) if version.status in catalogue.OPEN_STATUSES else {}
    live = changes = None
    if version.status in catalogue.OPEN_STATUSES and version.item.published_version_id:
        # the review compares the version with what the public sees now, field by field
        live = catalogue.load_version(version.item.published_version_id)
        changes = catalogue.diff_versions(live, version)
    return render_template(
        "admin/version.html",
        version=version,
        item=version.item,
        errors=errors or {},
        checks=checks,
        live=live,
        changes=changes,
        four_eyes_blocked=(
            current_app.config["PUBLISH_FOUR_EYES"] and version.submitted_by_id == current_user.id
        ),
        labels=catalogue.LABELS,
        open_version=next(
            (v for v in version.item.versions if v.status in catalogue.OPEN_STATUSES), None
        ),
    ), status


@bp.route("/versions/<int:version_id>")
def version(version_id: int):
    return _render_version(catalogue.load_version(version_id))


def _action_lock() -> int | None:
    form = LockedActionForm()
    form.validate()
    return form.lock.data


@bp.route("/versions/<int:version_id>/submit", methods=["POST"])
def version_submit(version_id: int):
    version = catalogue.load_version(version_id)
    try:
        with attempt():
            catalogue.submit_for_review(version, expected_lock=_action_lock(), actor=_admin())
    except ValidationError as exc:
        return _render_version(catalogue.load_version(version_id), exc.errors, 422)
    flash(_("已提交审核：第 %(n)d 版", n=version.number), "success")
    return redirect(url_for("admin.version", version_id=version.id))


@bp.route("/versions/<int:version_id>/return", methods=["POST"])
def version_return(version_id: int):
    version = catalogue.load_version(version_id)
    catalogue.return_to_draft(version, expected_lock=_action_lock(), actor=_admin())
    flash(_("已退回草稿，可以继续修改"), "success")
    return redirect(url_for("admin.version", version_id=version.id))


@bp.route("/versions/<int:version_id>/publish", methods=["POST"])
def version_publish(version_id: int):
    version = catalogue.load_version(version_id)
    try:
        with attempt():
            catalogue.publish_version(
                version, _admin(), expected_lock=_action_lock(), require_review=True
            )
    except ValidationError as exc:
        return _render_version(catalogue.load_version(version_id), exc.errors, 422)
    except Conflict as exc:
        flash(exc.message, "error")
        return _render_version(catalogue.load_version(version_id), status=409)
    flash(_("已发布第 %(n)d 版，群众现在看到的是这一版", n=version.number), "success")
    return redirect(url_for("admin.version", version_id=version.id))


@bp.route("/versions/<int:version_id>/copy", methods=["POST"])
def version_copy(version_id: int):
    version = catalogue.load_version(version_id)
    try:
        with attempt():
            draft = catalogue.create_draft_from(version, _admin())
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.item", item_id=version.item_id))
    flash(
        _("已根据第 %(old)d 版创建第 %(new)d 版草稿", old=version.number, new=draft.number),
        "success",
    )
    return redirect(url_for("admin.version_edit", version_id=draft.id))


@bp.route("/versions/<int:version_id>/discard", methods=["POST"])
def version_discard(version_id: int):
    version = catalogue.load_version(version_id)
    item_id, number = version.item_id, version.number
    catalogue.discard_draft(version, expected_lock=_action_lock(), actor=_admin())
    flash(_("已删除第 %(n)d 版草稿", n=number), "success")
    return redirect(url_for("admin.item", item_id=item_id))


def _editable(version_id: int) -> ItemVersion:
    version = catalogue.load_version(version_id)
    catalogue.ensure_editable(version)
    return version


def _added_rows(form) -> bool:
    """An "add rows" button was pressed: add the rows and show the form again, saving nothing."""
    for name in form.ROW_FIELDS:
        if getattr(form, f"add_{name}").data:
            form.add_rows(name)
            return True
    return False


def _offer_blank_rows(form) -> None:
    for name in form.ROW_FIELDS:
        form.add_rows(name, BLANK_ROWS)


@bp.route("/versions/<int:version_id>/edit", methods=["GET", "POST"])
def version_edit(version_id: int):
    version = _editable(version_id)
    form = GuideForm() if request.method == "POST" else GuideForm(data=GuideForm.initial(version))
    form.department_id.choices = _department_choices(version.department_id)
    form.themes.choices = [SelectChoice(str(t.id), t.name) for t in catalogue.list_themes()]
    if request.method == "GET":
        _offer_blank_rows(form)
    elif (
        not _added_rows(form)
        and form.validate_on_submit()
        and (
            done := save_form(
                form,
                lambda: catalogue.update_draft(
                    version,
                    guide=form.guide(),
                    theme_ids=form.themes.data or [],
                    expected_lock=form.lock.data,
                    actor=_admin(),
                ),
                done=_("草稿已保存"),
                to=url_for("admin.version", version_id=version.id),
            )
        )
    ):
        return done
    return render_template(
        "admin/guide_form.html", form=form, version=version, item=version.item
    ), form_status(form)


def _requirement_choices(form: RequirementForm, version: ItemVersion) -> None:
    form.material_type_id.choices = [
        SelectChoice(str(mt.id), f"{mt.name}（{mt.code}）")
        for mt in catalogue.list_all_material_types()
    ]
    form.condition.choices = RequirementForm.condition_choices(version.condition_questions)


@bp.route("/versions/<int:version_id>/requirements", methods=["GET", "POST"])
def requirements(version_id: int):
    version = _editable(version_id)
    if request.method == "POST":
        form = RequirementForm()
    else:
        form = RequirementForm(data={"lock": version.lock_version})
    _requirement_choices(form, version)
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: catalogue.add_requirement(
                version, values=form.values(), expected_lock=form.lock.data, actor=_admin()
            ),
            done=_("已添加一项申请材料"),
            to=url_for("admin.requirements", version_id=version.id),
        )
    ):
        return done
    version = catalogue.load_version(version_id)
    return render_template(
        "admin/requirements.html",
        form=form,
        version=version,
        item=version.item,
        labels=catalogue.LABELS,
        conditions={c.value: c.label for c in form.condition.choices},
    ), form_status(form)


@bp.route(
    "/versions/<int:version_id>/requirements/<int:requirement_id>/edit", methods=["GET", "POST"]
)
def requirement_edit(version_id: int, requirement_id: int):
    version = _editable(version_id)
    req = catalogue.load_requirement(version, requirement_id)
    if request.method == "POST":
        form = RequirementForm()
    else:
        form = RequirementForm(data=RequirementForm.initial(req, version.lock_version))
    _requirement_choices(form, version)
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: catalogue.update_requirement(
                req, values=form.values(), expected_lock=form.lock.data, actor=_admin()
            ),
            done=_("已保存这项申请材料"),
            to=url_for("admin.requirements", version_id=version.id),
        )
    ):
        return done
    version = catalogue.load_version(version_id)
    return render_template(
        "admin/requirement_form.html",
        form=form,
        version=version,
        item=version.item,
        req=catalogue.load_requirement(version, requirement_id),
    ), form_status(form)


@bp.route("/versions/<int:version_id>/requirements/<int:requirement_id>/delete", methods=["POST"])
def requirement_delete(version_id: int, requirement_id: int):
    version = catalogue.load_version(version_id)
    req = catalogue.load_requirement(version, requirement_id)
    catalogue.remove_requirement(req, expected_lock=_action_lock(), actor=_admin())
    flash(_("已删除这项申请材料"), "success")
    return redirect(url_for("admin.requirements", version_id=version_id))


@bp.route("/versions/<int:version_id>/requirements/<int:requirement_id>/move", methods=["POST"])
def requirement_move(version_id: int, requirement_id: int):
    version = catalogue.load_version(version_id)
    req = catalogue.load_requirement(version, requirement_id)
    form = MoveForm()
    form.validate()
    offset = -1 if form.offset.data == "up" else 1 if form.offset.data == "down" else 0
    catalogue.move_requirement(req, offset=offset, expected_lock=form.lock.data, actor=_admin())
    flash(_("已调整材料顺序"), "success")
    return redirect(url_for("admin.requirements", version_id=version_id))


@bp.route("/versions/<int:version_id>/form", methods=["GET", "POST"])
def application_form(version_id: int):
    version = _editable(version_id)
    if request.method == "POST":
        form = ApplicationFormForm()
    else:
        form = ApplicationFormForm(data=ApplicationFormForm.initial(version))
    if request.method == "GET":
        _offer_blank_rows(form)
    elif not _added_rows(form) and form.validate_on_submit():
        questions, conditions = form.values()
        if done := save_form(
            form,
            lambda: catalogue.update_application_form(
                version,
                questions=questions,
                condition_questions=conditions,
                expected_lock=form.lock.data,
                actor=_admin(),
            ),
            done=_("申请表已保存"),
            to=url_for("admin.version", version_id=version.id),
        ):
            return done
    return render_template(
        "admin/application_form.html", form=form, version=version, item=version.item
    ), form_status(form)


# ---------------------------------------------------------------------------- bundles


def _theme_choices(form: BundleForm) -> None:
    form.theme_id.choices = [SelectChoice("0", _("（不设主题）"))] + [
        SelectChoice(str(t.id), t.name) for t in catalogue.list_themes()
    ]


def _bundle_values(form: BundleForm) -> dict[str, Any]:
    """The form's values with the items and theme it names loaded (unknown codes: a field error)."""
    theme = db.session.get(Theme, form.theme_id.data) if form.theme_id.data else None
    return {
        "code": form.code.data,
        "name": form.name.data,
        "description": form.description.data or "",
        "theme": theme,
        "items": catalogue.find_items_by_code(form.item_codes()),
    }


@bp.route("/bundles")
def bundles():
    return render_template("admin/bundles.html", bundles=catalogue.list_bundles())


@bp.route("/bundles/new", methods=["GET", "POST"])
def bundle_new():
    form = BundleForm()
    _theme_choices(form)
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: catalogue.create_bundle(
                **_bundle_values(form), actor=_admin(), published=False
            ),
            done=lambda bundle: _("已创建一件事：%(name)s（尚未上线）", name=bundle.name),
            to=url_for("admin.bundles"),
        )
    ):
        return done
    return render_template("admin/bundle_form.html", form=form, bundle=None), form_status(form)


@bp.route("/bundles/<int:bundle_id>/edit", methods=["GET", "POST"])
def bundle_edit(bundle_id: int):
    bundle = catalogue.load_bundle(bundle_id)
    if request.method == "POST":
        form = BundleForm()
    else:
        form = BundleForm(
            data={
                "code": bundle.code,
                "name": bundle.name,
                "description": bundle.description,
                "theme_id": bundle.theme_id or 0,
                "items": "\n".join(e.item.code for e in bundle.entries),
            }
        )
    _theme_choices(form)
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: catalogue.update_bundle(bundle, **_bundle_values(form), actor=_admin()),
            done=lambda _r: _("已保存一件事：%(name)s", name=bundle.name),
            to=url_for("admin.bundles"),
        )
    ):
        return done
    return render_template(
        "admin/bundle_form.html", form=form, bundle=catalogue.load_bundle(bundle_id)
    ), form_status(form)


@bp.route("/bundles/<int:bundle_id>/published", methods=["POST"])
def bundle_published(bundle_id: int):
    bundle = _get(Bundle, bundle_id)
    published = request.form.get("published") == "1"
    try:
        with attempt():
            catalogue.set_bundle_published(bundle, published=published, actor=_admin())
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash(
            _("一件事已上线：%(name)s", name=bundle.name)
            if published
            else _("一件事已下线：%(name)s", name=bundle.name),
            "success",
        )
    return redirect(url_for("admin.bundles"))
