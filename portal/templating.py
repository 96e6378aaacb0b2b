"""Template globals and filters shared by every page."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, request, url_for
from flask_babel import get_locale
from flask_login import current_user

from portal.extensions import babel
from portal.template_i18n import install_request_domain, labels_in_locale
from services.answer_rules import describe_rules
from services.case_states import DELIVERY_KINDS, STATE_LABELS, state_label
from services.catalogue.vocabulary import catalogue_label
from services.clock import format_local
from services.delivery import CARRIERS, step_clock, term_label
from services.document_vocabulary import LABELS as DOCUMENT_LABELS
from services.document_vocabulary import document_label
from services.identity import mask_id_number, mask_name, mask_phone
from services.materials import answer_text
from services.timeline import event_kind_label

ELDER_COOKIE = "elder_mode"
_ID_MARK = 2**31 - 1  # portal/params.py MAX_ID: the largest id a URL takes


def url_with_id(endpoint: str, name: str, **values) -> Callable[[int], str]:
    """``url_for(endpoint, **{name: id}, **values)`` for the rows of a list: the URL is built
    once and each row's id put in its place (url_for costs ~10 µs; a list of 50 cases built
    three per row)."""
    head, _mark, tail = url_for(endpoint, **{name: _ID_MARK}, **values).rpartition(str(_ID_MARK))
    return lambda value: f"{head}{int(value)}{tail}"


_paths: dict[tuple[str, str], str] = {}


def path_for(endpoint: str) -> str:
    """``url_for(endpoint)`` of a route that takes no values, built once per process: the
    header, menu and footer of every page hold about fifteen."""
    key = (request.script_root, endpoint)
    path = _paths.get(key)
    if path is None:
        path = _paths[key] = url_for(endpoint)
    return path


def elder_mode_active() -> bool:
    if current_user.is_authenticated:
        return bool(current_user.elder_mode)
    return request.cookies.get(ELDER_COOKIE) == "1"


def html_lang() -> str:
    locale = str(get_locale() or "zh_CN")
    return "en" if locale.startswith("en") else "zh-CN"


def register_template_helpers(app: Flask) -> None:
    install_request_domain(app, babel)  # one catalogue look-up per request
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals.update(answer_text=answer_text, describe_rules=describe_rules)
    # 送达 and the guide's steps (services/delivery.py): templates/_macros/delivery.html
    app.jinja_env.globals.update(
        case_step_clock=step_clock,
        carrier_labels=CARRIERS,
        delivery_label=lambda method: str(DELIVERY_KINDS.get(method, method)),
        delivery_labels=lambda methods: "、".join(
            str(DELIVERY_KINDS.get(m, m)) for m in methods or []
        ),
        result_term_label=term_label,
    )
    app.jinja_env.globals.update(
        elder_mode_active=elder_mode_active,
        url_with_id=url_with_id,
        path_for=path_for,
        # a list takes the labels once (a lazy label per row costs a catalogue look-up)
        case_state_labels=lambda: labels_in_locale(STATE_LABELS),
        document_labels=lambda kind: labels_in_locale(DOCUMENT_LABELS[kind]),
        html_lang=html_lang,
        catalogue_label=catalogue_label,
        case_state_label=state_label,
        document_label=document_label,
        event_kind_label=event_kind_label,
    )
    app.jinja_env.filters.update(mask_name=mask_name, mask_id=mask_id_number, mask_phone=mask_phone)
    # every date and time a person reads, in the city's zone (PORTAL_TZ), written one way
    app.jinja_env.filters.update(
        local_datetime=lambda v: format_local(v, "datetime"),
        local_date=lambda v: format_local(v, "date"),
        local_time=lambda v: format_local(v, "time"),
        long_date=lambda v: format_local(v, "long_date"),
    )

    @app.context_processor
    def _site() -> dict:
        return {
            "site_name": app.config["SITE_NAME"],
            "hotline": app.config["SERVICE_HOTLINE"],
            "hall_address": app.config["SERVICE_HALL_ADDRESS"],
            "hall_hours": app.config["SERVICE_HALL_HOURS"],
            "session_seconds": int(app.permanent_session_lifetime.total_seconds()),
        }
