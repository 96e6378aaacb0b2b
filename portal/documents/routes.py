"""Thin views over services.documents, services.data_use and services.elicences."""

from __future__ import annotations

import logging
from functools import wraps

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from forms.auth import EmptyForm
from forms.documents import UploadForm, VerifyForm
from portal import database
from portal.access import login_required_any, roles_required
from portal.documents import bp, verify_bp
from portal.errors import render_error
from portal.files import send_stored
from portal.models import Document, Role
from portal.params import arg_int
from portal.personal_pages import personal_page
from portal.transaction import attempt
from services import data_use, documents, elicences
from services.errors import Conflict, TooManyAttempts, ValidationError

log = logging.getLogger(__name__)


def writes_on_get(view):
    """A GET view that may append to the data-use log: on SQLite, take the write lock when the
    transaction begins instead of upgrading a read transaction (which can fail under load)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        with database.writing():
            return view(*args, **kwargs)

    return wrapper


@bp.route("/")
@roles_required(Role.citizen)
@personal_page
def index():
    """我的材料, a page at a time; ?type= keeps to one material type, ?after= is the next page."""
    material_type_id = arg_int("type")
    after = request.args.get("after", "")[:60]
    library = documents.library_for(current_user, material_type_id=material_type_id, after=after)
    return render_template(
        "documents/index.html",
        library=library,
        material_type_id=material_type_id,
        paged=bool(after),
    )


@bp.route("/upload", methods=["GET", "POST"])
@roles_required(Role.citizen)
def upload():
    form = UploadForm()
    max_mb = int(current_app.config["MAX_UPLOAD_MB"])
    form.set_choices(documents.list_material_types(), max_mb)
    if form.validate_on_submit():
        incoming = form.file.data
        try:
            with attempt():
                document = documents.upload_document(
                    current_user,
                    material_type_id=form.material_type.data,
                    data=incoming.read(documents.max_upload_bytes() + 1),
                    filename=incoming.filename,
                    issued_on=form.issued_on.date,
                    own_expiry=form.valid_until.date,
                )
        except ValidationError as exc:
            form.apply_errors(exc)
        else:
            flash(_("已上传“%(name)s”，办事时可直接选用", name=document.title), "success")
            return redirect(url_for("documents.index"))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("documents/upload.html", form=form, max_mb=max_mb), status


def _send(document: Document, *, as_attachment: bool) -> Response:
    """Serve a library document with its stored type and name, never cached."""
    name = (
        document.original_filename
        or f"{document.title}{documents.CONTENT_SUFFIX[document.content_type]}"
    )
    return send_stored(
        document.storage_key,
        content_type=document.content_type,
        name=name,
        as_attachment=as_attachment,
    )


@bp.route("/<int:document_id>/view")
@writes_on_get
@login_required_any
def view(document_id: int):
    # a staff member's view is in the owner's log (committed by the boundary) before the
    # file leaves
    document = documents.open_document(current_user, document_id, download=False)
    return _send(document, as_attachment=False)


@bp.route("/<int:document_id>/download")
@writes_on_get
@login_required_any
def download(document_id: int):
    document = documents.open_document(current_user, document_id, download=True)
    return _send(document, as_attachment=True)


@bp.route("/<int:document_id>/delete", methods=["POST"])
@roles_required(Role.citizen)
def delete(document_id: int):
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        with attempt():
            documents.delete_document(current_user, document_id)
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash(_("材料已删除"), "success")
    return redirect(url_for("documents.index"))


@bp.route("/data-use")
@roles_required(Role.citizen)
def data_use_log():
    page = data_use.data_use_page(current_user.citizen_id, arg_int("page", lo=1) or 1)
    return render_template(
        "documents/data_use.html", log=page, mask_staff_id=data_use.mask_staff_id
    )


@verify_bp.route("/verify", methods=["GET", "POST"])
def verify():
    """Public: anyone holding a licence's number and its holder's code may check it. The check
    is a POST so that the holder's 身份证号 never lands in a URL, a log or the browser history."""
    form = VerifyForm()
    if request.method == "GET":
        number = elicences.normalise_code(request.args.get("number"))
        if elicences.NUMBER_RE.fullmatch(number):
            form.number.data = number
    result = None
    status = 200
    if form.validate_on_submit():
        try:
            with attempt():
                result = elicences.verify_elicence(
                    form.number.data,
                    form.holder_code.data,
                    remote_addr=request.remote_addr or "",
                    max_failures=int(current_app.config["VERIFY_MAX_FAILURES"]),
                    window_minutes=int(current_app.config["VERIFY_FAILURE_WINDOW_MINUTES"]),
                )
        except ValidationError as exc:
            form.apply_errors(exc)
        except TooManyAttempts as exc:
            form.form_errors.append(exc.message)
            status = 429
        # a miss returns normally: the boundary commits it, so that guessing is throttled
    if form.errors and status == 200:
        status = 422
    form.holder_code.data = ""  # the full 身份证号 is never sent back in a page
    response = current_app.make_response(
        (
            render_template("documents/verify.html", form=form, result=result),
            status,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@verify_bp.route("/verify/c/<code>")
@writes_on_get
def verify_by_code(code: str):
    """Public: the page a licence's or notice's QR code opens, with nothing to type. It shows
    only what the paper already shows, the holder masked; a code that names nothing is a 404
    that counts against the client's address (the boundary commits it), too many are a 429."""
    try:
        with attempt():
            record = elicences.check_by_code(
                code,
                remote_addr=request.remote_addr or "",
                max_failures=int(current_app.config["VERIFY_MAX_FAILURES"]),
                window_minutes=int(current_app.config["VERIFY_FAILURE_WINDOW_MINUTES"]),
            )
    except TooManyAttempts as exc:
        response = current_app.make_response(render_error(429, exc.message))
    else:
        if record is None:
            page = render_error(404, _("没有找到与该二维码相符的证照或文书，请核对后重试。"))
        else:
            page = render_template("documents/verify_code.html", record=record)
        response = current_app.make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return response
