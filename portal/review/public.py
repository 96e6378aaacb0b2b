"""The public notice verification page a notice's QR code points to (no personal data)."""

from __future__ import annotations

from flask import render_template, request

from forms.review import VerifyNoticeForm
from portal.review import public_bp
from services import notices


@public_bp.route("/notices/verify")
def verify():
    form = VerifyNoticeForm(formdata=request.args if "code" in request.args else None)
    checked = found = None
    if "code" in request.args and form.validate():
        checked = True
        found = notices.verify_notice(form.code.data)
    return render_template(
        "review/verify.html",
        form=form,
        checked=checked,
        notice=found,
        kind_labels=notices.KIND_LABELS,
    )
