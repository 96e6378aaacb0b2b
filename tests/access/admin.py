"""The admin area (catalogue publishing): admins only. The demo catalogue has no drafts, so the
draft editors answer 409 (a published version is never edited in place) to an admin."""

from tests.access import ADMIN_ONLY, ROLES

DRAFT_ONLY = {**ADMIN_ONLY, "admin": 409}
NO_FILE = dict.fromkeys(ROLES, 404)  # public, but the demo material types have no files

GET = {
    "admin.index": ("/admin/", ADMIN_ONLY),
    "admin.departments": ("/admin/departments", ADMIN_ONLY),
    "admin.department_new": ("/admin/departments/new", ADMIN_ONLY),
    "admin.department_edit": ("/admin/departments/1/edit", ADMIN_ONLY),
    "admin.material_types": ("/admin/materials", ADMIN_ONLY),
    "admin.material_type_new": ("/admin/materials/new", ADMIN_ONLY),
    "admin.material_type_edit": ("/admin/materials/1/edit", ADMIN_ONLY),
    "admin.items": ("/admin/items", ADMIN_ONLY),
    "admin.item_new": ("/admin/items/new", ADMIN_ONLY),
    "admin.item": ("/admin/items/1", ADMIN_ONLY),
    "admin.item_diff": ("/admin/items/1/diff", ADMIN_ONLY),
    "admin.version": ("/admin/versions/1", ADMIN_ONLY),
    "admin.version_edit": ("/admin/versions/1/edit", DRAFT_ONLY),
    "admin.requirements": ("/admin/versions/1/requirements", DRAFT_ONLY),
    "admin.requirement_edit": ("/admin/versions/1/requirements/1/edit", DRAFT_ONLY),
    "admin.application_form": ("/admin/versions/1/form", DRAFT_ONLY),
    "admin.bundles": ("/admin/bundles", ADMIN_ONLY),
    "admin.bundle_new": ("/admin/bundles/new", ADMIN_ONLY),
    "admin.bundle_edit": ("/admin/bundles/1/edit", ADMIN_ONLY),
    "downloads.material_file": ("/downloads/material-types/1/blank_form", NO_FILE),
}
POST_ONLY = {
    "admin.department_active": "/admin/departments/1/active",
    "admin.department_delete": "/admin/departments/1/delete",
    "admin.item_archive": "/admin/items/1/archive",
    "admin.version_submit": "/admin/versions/1/submit",
    "admin.version_return": "/admin/versions/1/return",
    "admin.version_publish": "/admin/versions/1/publish",
    "admin.version_copy": "/admin/versions/1/copy",
    "admin.version_discard": "/admin/versions/1/discard",
    "admin.requirement_delete": "/admin/versions/1/requirements/1/delete",
    "admin.requirement_move": "/admin/versions/1/requirements/1/move",
    "admin.bundle_published": "/admin/bundles/1/published",
}
