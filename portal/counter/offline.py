"""Offline intake (离线受理): the service worker, the app shell and the idempotent intake API."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flask import current_app, jsonify, make_response, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from portal.counter import bp
from portal.params import parse_int
from portal.transaction import attempt
from services import offline_intake
from services.errors import NotFound, ValidationError

SW_SOURCE = "js/offline-sw.js"
FILE_PREFIX = "file_"
ASSETS = ("css/portal.css", "js/portal.js", "js/offline-intake.js")


def _no_cache(response, *, store: bool = False):
    response.headers["Cache-Control"] = "no-store" if store else "no-cache"
    return response


def _asset_version(source: str) -> str:
    """Changes whenever a cached asset or the worker changes, so the worker renews its cache."""
    digest = hashlib.sha256(source.encode())
    for name in ASSETS:
        digest.update(_static(name))
    return digest.hexdigest()[:16]


def _static(name: str) -> bytes:
    return (Path(current_app.static_folder) / name).read_bytes()


def _shell_urls() -> dict[str, object]:
    return {
        "shell": url_for("counter.offline"),
        "catalogue": url_for("counter.offline_catalogue"),
        "token": url_for("counter.offline_token"),
        "intakes": url_for("counter.offline_send"),
        "worker": url_for("counter.service_worker"),
        "assets": [url_for("static", filename=name) for name in ASSETS],
    }


@bp.route("/offline")
def offline():
    """The app shell: no personal data, so the service worker may keep it for offline use."""
    return _no_cache(make_response(render_template("counter/offline.html", urls=_shell_urls())))


@bp.route("/offline/catalogue.json")
def offline_catalogue():
    """Published items with their conditions, questions and materials (cached offline)."""
    return _no_cache(jsonify(items=offline_intake.catalogue()))


@bp.route("/offline/token")
def offline_token():
    """A fresh CSRF token, fetched before sending (the cached shell's may be stale)."""
    return _no_cache(jsonify(csrf_token=generate_csrf()), store=True)


@bp.route("/sw.js")
def service_worker():
    """The service worker, served under /counter/ so that its scope covers the offline pages."""
    source = _static(SW_SOURCE).decode("utf-8")
    config = json.dumps({**_shell_urls(), "version": _asset_version(source)})
    response = current_app.response_class(
        f"self.OFFLINE_CONFIG = {config};\n{source}", mimetype="application/javascript"
    )
    response.headers["Service-Worker-Allowed"] = url_for("counter.workstation")
    return _no_cache(response)


@bp.route("/api/intakes", methods=["POST"])
def offline_send():
    """Send one intake (JSON, or multipart: ``payload`` and ``file_<requirement id>``)."""
    try:
        payload, files = _read_intake()
        with attempt():  # a refusal writes nothing and keeps no scan
            answer, replayed = offline_intake.send_intake(
                current_user, request.headers.get("Idempotency-Key"), payload, files
            )
    except offline_intake.IntakeRefused as exc:
        return jsonify(status="refused", errors=exc.errors), 422
    except ValidationError as exc:
        return jsonify(status="refused", errors=exc.errors), 400
    except NotFound as exc:
        return jsonify(status="not_found", errors={"": exc.message}), 404
    return jsonify(answer), 200 if replayed else 201


def _read_intake() -> tuple[dict, list[offline_intake.IntakeFile]]:
    bad = ValidationError({"": str(_l("受理内容格式不正确"))})
    if request.mimetype == "multipart/form-data":
        try:
            payload = json.loads(request.form.get("payload") or "")
        except ValueError:
            raise bad from None
        files = []
        for name, storage in request.files.items(multi=True):
            suffix = name[len(FILE_PREFIX) :]
            if not name.startswith(FILE_PREFIX) or parse_int(suffix) is None:
                raise bad
            files.append(
                offline_intake.IntakeFile(parse_int(suffix), storage.filename or "", storage.read())
            )
    else:
        payload, files = request.get_json(silent=True), []
    if not isinstance(payload, dict):
        raise bad
    return payload, files
