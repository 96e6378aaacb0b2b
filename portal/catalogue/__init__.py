"""The public catalogue: search, the filtered list, guides (办事指南), bundles (一件事) and PDFs."""

from flask import Blueprint

bp = Blueprint("catalogue", __name__)

from portal.catalogue import routes  # noqa: E402,F401
