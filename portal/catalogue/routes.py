"""Thin views of the public catalogue. Everything here is read-only and open to everyone."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import abort, make_response, render_template, request
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup

from forms.catalogue import CatalogueFilterForm, SearchForm
from portal.caching import cached_page, public_page
from portal.catalogue import bp
from portal.models import Role
from services import cache, catalogue_query
from services.bundles import merge_bundle_guide
from services.guide_cache import guide_cache
from services.pdf import DerivedPdf, derived_pdf, read_derived_pdf

# Slots the cached guide fragment leaves for what differs per reader (see _guide_body.html).
ON_FILE_SLOT = re.compile(r"<!--onfile:(\d+)-->")
PERSONAL_SLOT = "<!--slot:personal-->"


bp.add_app_template_global(catalogue_query.describe_condition, "describe_condition")


def requested_page() -> int:
    """?page=N, 1 when absent; anything but a sensible positive number is a bad request."""
    raw = request.args.get("page", "").strip() or "1"
    if (
        not (raw.isascii() and raw.isdigit())
        or len(raw) > 5
        or not 1 <= int(raw) <= catalogue_query.MAX_PAGE
    ):
        abort(400)
    return int(raw)


def filters_from(form: CatalogueFilterForm) -> catalogue_query.CatalogueFilters:
    """The valid filters of the form; a field with an error counts as "any"."""

    def ok(field) -> bool:
        return not field.errors and field.data not in (None, "")

    return catalogue_query.CatalogueFilters(
        theme_id=int(form.theme.data) if ok(form.theme) else None,
        department_code=form.department.data if ok(form.department) else None,
        audience=form.audience.data if ok(form.audience) else None,
        max_visits=int(form.visits.data) if ok(form.visits) else None,
        full_online=bool(form.full_online.data),
        instant=bool(form.instant.data),
    )


@bp.route("/catalogue")
@cached_page
def index():
    # the filters' choices and counts: computed once per publish generation
    themes = cache.get_or_set_scoped(catalogue_query.theme_counts, "theme_counts")
    departments = cache.get_or_set_scoped(catalogue_query.department_counts, "department_counts")
    form = CatalogueFilterForm(formdata=request.args)
    form.set_choices(themes, departments)
    form.validate()
    filters = filters_from(form)
    page = catalogue_query.list_catalogue(filters, requested_page())
    args = {
        name: "y" if f.data is True else f.data
        for name, f in form._fields.items()
        if not f.errors and f.data not in (None, "", False)
    }
    status = 400 if form.errors else 200
    return render_template("catalogue/index.html", form=form, result=page, page_args=args), status


@bp.route("/search")
@cached_page
def search():
    raw = request.args.get("q", "")
    results = catalogue_query.search_catalogue(raw, requested_page())
    form = SearchForm(formdata=None)
    form.q.data = catalogue_query.display_query(raw)
    popular = catalogue_query.popular_items(6) if results.found_nothing else []
    return render_template("catalogue/search.html", form=form, results=results, popular=popular)


@dataclass(frozen=True)
class RenderedGuide:
    title: str
    html: str


def rendered_guide(key: catalogue_query.PublishedKey) -> RenderedGuide | None:
    """The guide fragment of a published version, from the cache or freshly rendered."""
    guides = guide_cache()
    cache_key = (key.version_id, key.published_at, str(get_locale()))
    entry = guides.get(cache_key)
    if entry is None:
        version = catalogue_query.load_guide(key.version_id)
        if version is None:
            return None
        entry = RenderedGuide(
            title=version.name,
            html=render_template("catalogue/_guide_body.html", v=version, item=version.item),
        )
        guides.put(cache_key, entry)
    return entry


def citizen_id() -> int | None:
    if current_user.is_authenticated and current_user.role == Role.citizen:
        return current_user.citizen_id
    return None


@bp.route("/items/<code>")
@cached_page
def item(code: str):
    key = catalogue_query.published_key(code)
    if key is None:
        abort(404)
    guide = rendered_guide(key)
    if guide is None:
        abort(404)
    holder = citizen_id()
    on_file = catalogue_query.materials_on_file(holder, key.version_id) if holder else None
    personal = render_template(
        "catalogue/_guide_personal.html",
        on_file=on_file,
        bundles=catalogue_query.bundles_containing(code),
    )
    badge = render_template("catalogue/_on_file_badge.html") if on_file else ""
    html = ON_FILE_SLOT.sub(
        lambda m: badge if int(m.group(1)) in (on_file or ()) else "", guide.html
    )
    html = html.replace(PERSONAL_SLOT, personal, 1)
    # every part is autoescaped Jinja output (the cached guide body and the two fragments just
    # rendered), and the slot markers are fixed strings: no untrusted text becomes markup here
    body = Markup(html)  # nosec B704
    return render_template("catalogue/guide.html", title=guide.title, body=body)


def pdf_response(pdf: DerivedPdf, filename: str):
    """The PDF with its digest as ETag: a browser that has it gets a 304. The same for every
    reader (no personal data), so any cache may keep it, revalidating each time; but, like every
    page a logged-in person sees, not on a shared computer in the hall (portal/caching.py)."""
    if request.if_none_match.contains(pdf.etag):
        response = make_response("", 304)
    else:
        response = make_response(pdf.data)
        response.headers["Content-Type"] = "application/pdf"
        response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.set_etag(pdf.etag)
    response.headers["Cache-Control"] = (
        "no-store" if current_user.is_authenticated else "public, no-cache"
    )
    return response


def public_pdf(template: str, code: str):
    """A guide's PDF: rendered once per published content, then read from storage. Its name is
    remembered per publish generation and language, so asking again renders nothing."""
    if not code or len(code) > catalogue_query.MAX_CODE_LENGTH:
        abort(404)
    remembered = ("pdf", template, code, str(get_locale()))
    name = cache.get_scoped(*remembered)
    if name and request.if_none_match.contains(DerivedPdf(name, b"").etag):
        return pdf_response(DerivedPdf(name, b""), "")  # a 304: not even read from storage
    pdf = read_derived_pdf(name) if name else None
    if pdf is None:
        version = catalogue_query.published_guide(code)
        if version is None:
            abort(404)
        pdf = derived_pdf(template, v=version, item=version.item)
        cache.set_scoped(pdf.name, *remembered)
    return pdf_response(pdf, f"{template.removesuffix('.html')}-{code}.pdf")


@bp.route("/items/<code>/guide.pdf")
@public_page
def guide_pdf(code: str):
    return public_pdf("guide.html", code)


@bp.route("/items/<code>/checklist.pdf")
@public_page
def checklist_pdf(code: str):
    return public_pdf("checklist.html", code)


@bp.route("/bundles/<code>")
@cached_page
def bundle(code: str):
    loaded = catalogue_query.load_bundle(code)
    if loaded is None:
        abort(404)
    return render_template("catalogue/bundle.html", guide=merge_bundle_guide(loaded))
