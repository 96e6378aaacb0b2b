"""The self-service kiosk: public pages; applying needs a login."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import ServiceItem
from tests.access import ALL_200, LOGGED_IN_ONLY


def kiosk_item_path():
    code = db.session.scalar(
        select(ServiceItem.code)
        .where(ServiceItem.kiosk_enabled.is_(True))
        .order_by(ServiceItem.code)
        .limit(1)
    )
    return f"/kiosk/SMZX/apply/{code}"


GET = {
    "kiosk.start": ("/kiosk/SMZX/", ALL_200),
    "kiosk.guides": ("/kiosk/SMZX/guides", ALL_200),
    "kiosk.case_status": ("/kiosk/SMZX/case", ALL_200),
    "kiosk.items": ("/kiosk/SMZX/apply", ALL_200),
    "kiosk.apply_item": (kiosk_item_path, LOGGED_IN_ONLY),
}
POST_ONLY = {
    "kiosk.start_application": "/kiosk/SMZX/apply/X/start",
    "kiosk.call_staff": "/kiosk/SMZX/help",
    "kiosk.reset": "/kiosk/SMZX/reset",
}
