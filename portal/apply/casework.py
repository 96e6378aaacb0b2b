"""After submission: correcting only the listed items, supplying 容缺 materials, the notices
and the e-licence of one's case, and rating it (好差评)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from forms.review import RatingForm
from portal.apply import bp
from portal.apply.routes import take_upload
from portal.files import notice_response, send_stored
from portal.form_flow import save_form
from portal.params import form_version
from portal.transaction import attempt
from services import casework, ratings, workflow
from services.errors import Conflict, ValidationError
from services.materials import parse_choice


def _version() -> int:
    return form_version()


def _chosen_documents(prefix_ids: list[int]) -> dict[int, int]:
    """{requirement id: document id} from radios named m_<requirement id> valued doc:<id>."""
    chosen = {}
    for req_id in prefix_ids:
        value = request.form.get(f"m_{req_id}", "")
        if not value:
            continue
        try:
            choice = parse_choice(value)
        except ValidationError:
            abort(400)
        if choice is None or choice.document_id is None:
            abort(400)
        chosen[req_id] = choice.document_id
    return chosen


def _citizen_action(
    case_id: int,
    action: str,
    done: str,
    *,
    case_endpoint: str = "apply.case",
    perform=None,
    **params,
):
    """Take the citizen's workflow action from a page: (redirect to the case, {}) when taken or
    refused by a conflict (flashed), or (None, the field errors) to show the page again."""
    try:
        with attempt():
            if perform is None:
                workflow.perform(current_user, case_id, action, _version(), **params)
            else:
                perform(current_user, case_id, _version(), **params)
    except ValidationError as exc:
        return None, exc.errors
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash(done, "success")
    return redirect(url_for(case_endpoint, case_id=case_id)), {}


@dataclass(frozen=True)
class CorrectionSide:
    """Who brings the corrections: the citizen online, or a counter clerk for the walk-in."""

    page: str = "apply.correction"
    upload: str = "apply.correction_upload"
    case: str = "apply.case"
    done: Any = _l("补正已提交，部门将尽快受理")
    perform: Callable | None = None  # (actor, case id, version, **params); None: the workflow's


ONLINE = CorrectionSide()


def _correction_page(
    side: CorrectionSide, app, fields, materials, errors: dict[str, str], values: dict | None = None
):
    values = values if values is not None else {f.question["key"]: f.value for f in fields}
    return render_template(
        "apply/correction.html",
        app=app,
        fields=fields,
        materials=materials,
        values=values,
        errors=errors,
        side=side,
    ), (422 if errors else 200)


def correction_flow(case_id: int, side: CorrectionSide = ONLINE):
    """Change only the items the correction notice listed, then resubmit (GET shows, POST sends)."""
    app, fields, materials = casework.correction_page(current_user, case_id)
    if request.method == "GET":
        return _correction_page(side, app, fields, materials, {})
    answers = {
        f.question["key"]: (
            request.form.getlist(f"q_{f.question['key']}")
            if f.question.get("type") == "multiselect"
            else request.form.get(f"q_{f.question['key']}", "")
        )
        for f in fields
    }
    done, errors = _citizen_action(
        case_id,
        "resubmit",
        str(side.done),
        case_endpoint=side.case,
        perform=side.perform,
        answers=answers,
        documents=_chosen_documents([m.material.requirement_id for m in materials]),
    )
    return done or _correction_page(side, app, fields, materials, errors, answers)


def correction_upload_flow(case_id: int, requirement_id: int, side: CorrectionSide = ONLINE):
    """A new file for one material the correction notice listed; it is preselected, and the
    correction is still submitted as a whole."""
    errors = take_upload(
        f"u{requirement_id}",
        lambda **upload: casework.upload_for_correction(
            current_user, case_id, requirement_id, **upload
        ),
        _("已上传，并选为补正材料。请核对后提交补正"),
    )
    if not errors:
        return redirect(url_for(side.page, case_id=case_id) + f"#m_{requirement_id}")
    return _correction_page(side, *casework.correction_page(current_user, case_id), errors)


@bp.route("/cases/<int:case_id>/correction", methods=["GET", "POST"])
def correction(case_id: int):
    return correction_flow(case_id)


@bp.route("/cases/<int:case_id>/correction/materials/<int:requirement_id>/upload", methods=["POST"])
def correction_upload(case_id: int, requirement_id: int):
    return correction_upload_flow(case_id, requirement_id)


@bp.route("/cases/<int:case_id>/supply", methods=["GET", "POST"])
def supply(case_id: int):
    app, materials = casework.supply_page(current_user, case_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        done, errors = _citizen_action(
            case_id,
            "supply_materials",
            _("材料已补交，部门审核后继续办理"),
            documents=_chosen_documents([m.material.requirement_id for m in materials]),
        )
        if done:
            return done
    return render_template("apply/supply.html", app=app, materials=materials, errors=errors), (
        422 if errors else 200
    )


@bp.route("/cases/<int:case_id>/notices/<int:notice_id>")
def notice(case_id: int, notice_id: int):
    return notice_response(casework.case_notice(current_user, case_id, notice_id))


@bp.route("/cases/<int:case_id>/licence")
def licence(case_id: int):
    item, document = casework.case_licence(current_user, case_id)
    return send_stored(
        document.storage_key,
        content_type="application/pdf",
        as_attachment=True,
        name=f"{item.number}.pdf",
    )


@bp.route("/cases/<int:case_id>/received", methods=["POST"])
def confirm_receipt(case_id: int):
    """邮寄: the applicant confirms the posted result arrived; the case is 办结."""
    response, _errors = _citizen_action(case_id, "confirm_receipt", _("已确认收到，办件已办结"))
    return response


@bp.route("/cases/<int:case_id>/rate", methods=["GET", "POST"])
def rate(case_id: int):
    app = casework.own_case(current_user, case_id)
    try:
        ratings.check_rateable(app)
    except Conflict as exc:  # already rated (and when), or not finished yet
        flash(exc.message, "info")
        return redirect(url_for("apply.case", case_id=case_id) + "#rating-title")
    form = RatingForm()
    back = url_for("apply.case", case_id=case_id)
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: ratings.rate_case(
                current_user,
                case_id,
                score=form.score.data,
                indicators={f.name[2:]: f.data for f in form.indicator_fields()},
                tags=[f.name[2:] for f in form.tag_fields() if f.data],
                comment=form.comment.data or "",
            ),
            done=_("感谢您的评价"),
            to=back,
            conflict_to=back,
        )
    ):
        return done
    return render_template("apply/rate.html", app=app, form=form), (422 if form.errors else 200)


@bp.route("/cases/<int:case_id>/visits/<int:visit_no>/rate", methods=["POST"])
def rate_visit(case_id: int, visit_no: int):
    """一次一评: the rating of one in-person visit, from the form on the case page."""
    from forms.review import VisitRatingForm
    from portal.apply.routes import render_case

    app = casework.own_case(current_user, case_id)
    ratings.visit_of(app, visit_no)
    form = VisitRatingForm(prefix=f"v{visit_no}")
    back = url_for("apply.case", case_id=case_id)
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: ratings.rate_case(
                current_user,
                case_id,
                score=form.score.data,
                indicators={},
                tags=[],
                comment=form.comment.data or "",
                visit_no=visit_no,
            ),
            done=_("感谢您对这次到场办理的评价"),
            to=back + "#visits-title",
            conflict_to=back,
        )
    ):
        return done
    return render_case(app, (visit_no, form))
