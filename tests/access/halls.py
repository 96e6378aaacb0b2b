"""Service halls, windows, queue categories and appointment templates: admins only (the
paths name the demo's 市民服务中心, its category A and a weekly session of it)."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import AppointmentSession, CounterWindow, QueueCategory, ServiceHall
from tests.access import ADMIN_ONLY


def _hall() -> ServiceHall:
    return db.session.scalar(select(ServiceHall).where(ServiceHall.code == "SMZX"))


def _category() -> QueueCategory:
    hall = _hall()
    return next(c for c in hall.categories if c.code == "A")


def hall_path(tail: str = ""):
    return lambda: f"/admin/halls/{_hall().id}{tail}"


def category_path(tail: str):
    def path():
        category = _category()
        return f"/admin/halls/{category.hall_id}/categories/{category.id}{tail}"

    return path


def window_path():
    hall = _hall()
    window = db.session.scalar(select(CounterWindow).where(CounterWindow.hall_id == hall.id))
    return f"/admin/halls/{hall.id}/windows/{window.id}/edit"


def session_path(action: str = "edit"):
    def path():
        category = _category()
        session = db.session.scalar(
            select(AppointmentSession).where(AppointmentSession.category_id == category.id)
        )
        return (
            f"/admin/halls/{category.hall_id}/categories/{category.id}"
            f"/sessions/{session.id}/{action}"
        )

    return path


GET = {
    "admin.halls_list": ("/admin/halls", ADMIN_ONLY),
    "admin.hall_new": ("/admin/halls/new", ADMIN_ONLY),
    "admin.hall": (hall_path(), ADMIN_ONLY),
    "admin.hall_edit": (hall_path("/edit"), ADMIN_ONLY),
    "admin.category_new": (hall_path("/categories/new"), ADMIN_ONLY),
    "admin.category_edit": (category_path("/edit"), ADMIN_ONLY),
    "admin.window_new": (hall_path("/windows/new"), ADMIN_ONLY),
    "admin.window_edit": (window_path, ADMIN_ONLY),
    "admin.hall_template": (category_path("/template"), ADMIN_ONLY),
    "admin.session_edit": (session_path(), ADMIN_ONLY),
    "admin.session_delete": (session_path("delete"), ADMIN_ONLY),
    "admin.hall_closures": (hall_path("/closures"), ADMIN_ONLY),
    "admin.hall_slots": (hall_path("/slots"), ADMIN_ONLY),
}
POST_ONLY = {
    "admin.hall_active": "/admin/halls/1/active",
    "admin.extra_add": "/admin/halls/1/categories/1/extra",
    "admin.closure_delete": "/admin/halls/1/closures/1/delete",
    "admin.slot_capacity": "/admin/halls/1/slots/1",
    "appointments.contact": "/appointments/hall/1/contact",
}
