"""Public downloads: a material type's blank form (空白表格) and filled example (示例样表)."""

from __future__ import annotations

from pathlib import Path

from flask import abort, current_app, send_file

from portal.admin import downloads_bp
from services import catalogue, storage
from services.documents import CONTENT_SUFFIX

SUFFIX_TYPES = {suffix: content_type for content_type, suffix in CONTENT_SUFFIX.items()}


@downloads_bp.route("/material-types/<int:type_id>/<any(blank_form, example):kind>")
def material_file(type_id: int, kind: str):
    mt, key = catalogue.get_material_file(type_id, kind)
    path = storage.path_for(current_app.config["UPLOAD_DIR"], key)
    if not path.is_file():
        abort(404)
    suffix = Path(key).suffix
    name = f"{mt.name}-{catalogue.FILE_KIND_LABELS[kind]}{suffix}"
    response = send_file(path, mimetype=SUFFIX_TYPES[suffix], as_attachment=True,
                         download_name=name, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response
