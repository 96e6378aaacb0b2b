"""The queue: public ticket pages and call display, the clerk's desk, the statistics."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import ServiceHall
from services import queue
from tests.access import ALL_200, COUNTER_ONLY

STATS = {"anonymous": 302, "citizen": 403, "counter": 200, "reviewer": 403, "admin": 200}


def ticket_path():
    hall = db.session.scalar(select(ServiceHall).where(ServiceHall.code == "SMZX"))
    ticket = queue.take_ticket(hall, "A")
    db.session.commit()
    return f"/queue/SMZX/tickets/{ticket.id}"


GET = {
    "queue.take": ("/queue/SMZX/", ALL_200),
    "queue.ticket": (ticket_path, ALL_200),
    "queue.display": ("/queue/SMZX/display", ALL_200),
    "queue.calls": ("/queue/SMZX/calls.json", ALL_200),
    "queue.desk": ("/queue/desk", COUNTER_ONLY),
    "queue.desk_status": ("/queue/desk/status.json", COUNTER_ONLY),
    "queue.stats": ("/queue/stats", STATS),
}
POST_ONLY = {
    "queue.issue": "/queue/SMZX/tickets",
    "queue.choose_window": "/queue/desk/window",
    "queue.leave_window": "/queue/desk/leave",
    "queue.call_next": "/queue/desk/call",
    "queue.act": "/queue/desk/tickets/1/recall",
    "queue.acknowledge_help": "/queue/desk/help/1",
}
