"""This browser as a hall's self-service kiosk: a device setting made by staff, not by a link.

Counter staff or an admin sets a browser up (把本机设为自助终端, a POST): the hall and the
terminal's name and place go into a long-lived cookie signed with the app's secret. Kiosk mode
(the idle reset on every page, 长辈模式 by default, tickets counted as taken at a kiosk) holds
only for a browser carrying a cookie that verifies; opening a kiosk page never sets anything,
so a link cannot turn a citizen's browser into a kiosk that logs them out."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, request
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer

from portal.models import Role

DEVICE_COOKIE = "kiosk_device"
DEVICE_DAYS = 3650  # the setting outlives idle resets, restarts and the browser's session
_SALT = "kiosk-device"
_UNSET = object()


@dataclass(frozen=True)
class Device:
    hall: str  # the hall's code
    terminal: str  # the name and place staff gave it, e.g. "B区2号机（取号机右侧）"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=_SALT)


def sign(device: Device) -> str:
    return _serializer().dumps({"hall": device.hall, "terminal": device.terminal})


def set_cookie(response, device: Device) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        sign(device),
        max_age=DEVICE_DAYS * 86400,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )


def clear_cookie(response) -> None:
    response.delete_cookie(DEVICE_COOKIE)


def current() -> Device | None:
    """The kiosk setting this browser carries, when its signature verifies (once per request)."""
    found = g.get("kiosk_device", _UNSET)
    if found is _UNSET:
        found = None
        raw = request.cookies.get(DEVICE_COOKIE)
        if raw:
            try:
                data = _serializer().loads(raw)
            except BadSignature:
                data = None
            if isinstance(data, dict) and isinstance(data.get("hall"), str):
                found = Device(data["hall"], str(data.get("terminal") or ""))
        g.kiosk_device = found
    return found


def hall_code() -> str | None:
    """The hall this browser is a kiosk of, or None for any other browser."""
    device = current()
    return device.hall if device else None


def idle_hall() -> str | None:
    """The hall whose idle reset runs on this page: a kiosk browser used anonymously or by a
    citizen. Staff on a kiosk (setting it up or taking it back) are not logged out by it."""
    if current_user.is_authenticated and current_user.role != Role.citizen:
        return None
    return hall_code()
