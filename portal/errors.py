"""Errors mapped in one place: pages in the portal's look, JSON under /api/."""

from __future__ import annotations

import logging
import secrets

from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from portal import transaction
from portal.extensions import db
from services import audit
from services.errors import DomainError

log = logging.getLogger(__name__)

MESSAGES = {
    400: (_l("请求有误"), _l("页面收到的信息不完整或格式不对，请返回重新填写。")),
    403: (_l("没有权限"), _l("您没有权限访问这个页面。如需帮助，请拨打咨询电话。")),
    404: (_l("页面不存在"), _l("没有找到您要的页面，可能链接有误或内容已下线。")),
    405: (_l("操作方式不对"), _l("这个页面不支持该操作，请从页面上的按钮进入。")),
    409: (_l("操作冲突"), _l("该内容已被他人处理，请刷新后重试。")),
    413: (_l("文件太大"), _l("上传的内容超过了大小限制，请压缩后重新上传。")),
    429: (_l("操作太频繁"), _l("请稍后再试。")),
    500: (_l("系统出错了"), _l("很抱歉，系统暂时出现问题。请稍后再试，或拨打咨询电话。")),
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def render_error(status: int, detail: str | None = None, reference: str = ""):
    title, message = MESSAGES.get(status, MESSAGES[500 if status >= 500 else 400])
    if wants_json():
        body = {"status": status, "title": str(title), "message": detail or str(message)}
        if reference:
            body["reference"] = reference
        return jsonify(error=body), status
    return render_template(
        "errors/error.html",
        status=status,
        title=title,
        message=detail or message,
        reference=reference,
    ), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        log.info("CSRF refused: %s", exc.description)
        return render_error(400, str(_l("页面已过期或来源不明，请刷新页面后重新提交。")))

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        if exc.status_code == 403:
            _record_access_refused()
        transaction.roll_back()
        return render_error(exc.status_code, exc.message)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code == 403:
            _record_access_refused()
            transaction.roll_back()  # writes the refusal on its own, even in a GET
        elif exc.code and exc.code >= 500:
            transaction.roll_back()
        return render_error(exc.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        transaction.roll_back()
        # a reference the person can quote on the phone (12345), found in the log with the
        # traceback; the page shows nothing of the exception
        reference = secrets.token_hex(6)
        log.exception(
            "unhandled error [request %s] on %s %s", reference, request.method, request.path
        )
        if app.config.get("PROPAGATE_EXCEPTIONS"):
            raise exc
        return render_error(InternalServerError.code, reference=reference)


def _record_access_refused() -> None:
    """Every 403 leaves an audit event naming who asked for what (ASVS: access refusals are
    logged); the transaction boundary keeps it though the request is rolled back. A refusal
    the service already recorded in its own words (``counter_access_refused``) is enough."""
    if audit.refusal_recorded(db.session):
        return
    actor = current_user._get_current_object() if current_user.is_authenticated else None
    audit.record_refusal(
        "access_refused",
        actor=actor,
        details={
            "method": request.method,
            "path": request.path[:200],
            "endpoint": request.endpoint,
        },
    )
