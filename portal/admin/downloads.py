"""Public downloads: a material type's blank form (空白表格) and filled example (示例样表)."""

from __future__ import annotations

from pathlib import Path

from portal.admin import downloads_bp
from portal.files import send_stored
from services import catalogue
from services.documents import CONTENT_SUFFIX

SUFFIX_TYPES = {suffix: content_type for content_type, suffix in CONTENT_SUFFIX.items()}


@downloads_bp.route("/material-types/<int:type_id>/<any(blank_form, example):kind>")
def material_file(type_id: int, kind: str):
    mt, key = catalogue.get_material_file(type_id, kind)
    suffix = Path(key).suffix
    return send_stored(
        key,
        content_type=SUFFIX_TYPES[suffix],
        as_attachment=True,
        cache_control="no-cache",
        name=f"{mt.name}-{catalogue.FILE_KIND_LABELS[kind]}{suffix}",
    )
