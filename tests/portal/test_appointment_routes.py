"""预约 through the web layer: CSRF, ownership (404), refusals next to the field with nothing
written, cancel, and the counter's 今日预约 → 接待 → workstation."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Appointment, AppointmentSlot, CounterContext, Message
from services import appointments
from tests.conftest import csrf_token, login
from tests.helpers import submit_committed_case
from tests.workflow_cases import RESIDENCE_PERMIT, item_named, user


def free_slots(query, login_name="13800000002", case_id=None) -> list[int]:
    def run():
        actor = user(login_name)
        target = (
            appointments.target_for_case(actor, case_id)
            if case_id
            else appointments.target_for_item(actor, item_named(RESIDENCE_PERMIT).code)
        )
        page = appointments.booking_page(target, "SMZX", None)
        return [c.slot.id for c in page.slots if c.bookable]

    return query(run)


def state(query, slot_id):
    return query(
        lambda: (
            db.session.get(AppointmentSlot, slot_id).booked,
            db.session.scalar(select(func.count()).select_from(Appointment)),
            db.session.scalar(select(func.count()).select_from(Message)),
        )
    )


def test_a_citizen_books_from_their_case(client, query):
    case_id = submit_committed_case(query)
    slot_id = free_slots(query, case_id=case_id)[0]
    login(client, "13800000002")
    case_page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f"/appointments/cases/{case_id}/book" in case_page

    page = client.get(f"/appointments/cases/{case_id}/book").get_data(as_text=True)
    assert f'value="{slot_id}"' in page and "余 4 个" in page
    assert "办件正在预审" in page  # submitted, not yet accepted

    token = csrf_token(client, f"/appointments/cases/{case_id}/book")
    response = client.post(
        f"/appointments/cases/{case_id}/book", data={"csrf_token": token, "slot": slot_id}
    )
    assert response.status_code == 302
    booked = query(
        lambda: db.session.scalar(select(Appointment).where(Appointment.application_id == case_id))
    )
    assert response.headers["Location"].endswith(f"/appointments/{booked.id}")
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert booked.code in detail and "预约成功" in detail
    assert state(query, slot_id)[0] == 1
    assert booked.code in client.get("/appointments/").get_data(as_text=True)


def test_booking_needs_the_csrf_token_and_writes_nothing_without_it(client, query):
    slot_id = free_slots(query)[0]
    before = state(query, slot_id)
    login(client, "13800000002")
    code = query(lambda: item_named(RESIDENCE_PERMIT).code)
    assert (
        client.post(f"/appointments/items/{code}/book", data={"slot": slot_id}).status_code == 400
    )
    assert state(query, slot_id) == before


def test_another_citizens_case_is_404(client, query):
    case_id = submit_committed_case(query, "13800000003")
    slot_id = free_slots(query, "13800000003", case_id)[0]
    before = state(query, slot_id)
    login(client, "13800000002")
    assert client.get(f"/appointments/cases/{case_id}/book").status_code == 404
    token = csrf_token(client, "/appointments/")
    assert (
        client.post(
            f"/appointments/cases/{case_id}/book", data={"csrf_token": token, "slot": slot_id}
        ).status_code
        == 404
    )
    assert state(query, slot_id) == before


def test_an_unknown_slot_is_404_and_writes_nothing(client, query):
    slot_id = free_slots(query)[0]
    before = state(query, slot_id)
    login(client, "13800000002")
    code = query(lambda: item_named(RESIDENCE_PERMIT).code)
    token = csrf_token(client, f"/appointments/items/{code}/book")
    for bad in ("999999999", "abc", ""):
        response = client.post(
            f"/appointments/items/{code}/book", data={"csrf_token": token, "slot": bad}
        )
        assert response.status_code == 404, bad
    assert state(query, slot_id) == before
    assert client.get("/appointments/items/NO-SUCH-ITEM/book").status_code == 404
    assert client.get(f"/appointments/items/{code}/book?hall=NOPE").status_code == 404


def test_a_full_slot_is_refused_next_to_the_field(client, query):
    slot_id = free_slots(query)[0]
    query(
        lambda: (
            setattr(db.session.get(AppointmentSlot, slot_id), "booked", 4),
            db.session.commit(),
        )
    )
    before = state(query, slot_id)
    login(client, "13800000002")
    code = query(lambda: item_named(RESIDENCE_PERMIT).code)
    token = csrf_token(client, f"/appointments/items/{code}/book")
    response = client.post(
        f"/appointments/items/{code}/book", data={"csrf_token": token, "slot": slot_id}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'<p class="error" id="slot-error">.*该时段已约满，请选择其他时段', html)
    assert 'aria-describedby="slot-error"' in html
    assert state(query, slot_id) == before


def test_the_item_page_offers_to_apply_online_first(client, query):
    login(client, "13800000002")
    code = query(lambda: item_named(RESIDENCE_PERMIT).code)
    html = client.get(f"/appointments/items/{code}/book").get_data(as_text=True)
    assert f'href="/apply/{code}"' in html and "先在网上申请" in html
    guide = client.get(f"/items/{code}").get_data(as_text=True)
    assert f"/appointments/items/{code}/book" in guide


def test_cancel_frees_the_place(app, client, query):
    slot_id = free_slots(query)[0]
    login(client, "13800000002")
    code = query(lambda: item_named(RESIDENCE_PERMIT).code)
    token = csrf_token(client, f"/appointments/items/{code}/book")
    client.post(f"/appointments/items/{code}/book", data={"csrf_token": token, "slot": slot_id})
    booked_id = query(
        lambda: db.session.scalar(select(Appointment.id).where(Appointment.slot_id == slot_id))
    )
    assert state(query, slot_id)[0] == 1
    assert client.post(f"/appointments/{booked_id}/cancel", data={}).status_code == 400  # no token
    assert state(query, slot_id)[0] == 1
    response = client.post(f"/appointments/{booked_id}/cancel", data={"csrf_token": token})
    assert response.status_code == 302
    assert state(query, slot_id)[0] == 0
    assert query(lambda: db.session.get(Appointment, booked_id).status) == "cancelled"
    # someone else's booking: not found
    other = app.test_client()
    login(other, "13800000003")
    assert other.get(f"/appointments/{booked_id}").status_code == 404


def test_the_counter_receives_a_booking_and_goes_to_the_workstation(client, query):
    def book_for_today():
        actor = user("13800000002")
        target = appointments.target_for_item(actor, item_named(RESIDENCE_PERMIT).code)
        page = appointments.booking_page(target, "SMZX", None)
        booked = appointments.book_appointment(actor, target, page.slots[0].slot.id)
        booked.slot.day = appointments.local_now().date()
        db.session.commit()
        return booked.id, booked.code, actor.citizen.name

    booked_id, code, name = query(book_for_today)
    login(client, "counter01")
    html = client.get("/appointments/hall").get_data(as_text=True)
    assert code in html and name not in html  # the citizen's name is masked
    assert "未在网上申请" in html
    assert code in client.get(f"/appointments/hall/{booked_id}").get_data(as_text=True)
    token = csrf_token(client, "/appointments/hall")
    response = client.post(f"/appointments/hall/{booked_id}/receive", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/counter/")
    assert query(lambda: db.session.get(Appointment, booked_id).status) == "arrived"
    context = query(
        lambda: db.session.scalar(
            select(CounterContext).where(
                CounterContext.appointment_id == booked_id, CounterContext.ended_at.is_(None)
            )
        )
    )
    assert context is not None
    # received once: a second 接待 is refused with a message, not a second context
    response = client.post(f"/appointments/hall/{booked_id}/receive", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/appointments/hall"
    )
    assert (
        query(
            lambda: db.session.scalar(
                select(func.count())
                .select_from(CounterContext)
                .where(CounterContext.appointment_id == booked_id)
            )
        )
        == 1
    )


def test_reschedule_takes_the_new_place_and_frees_the_old(client, query):
    old, new = free_slots(query)[:2]
    login(client, "13800000002")
    code = query(lambda: item_named(RESIDENCE_PERMIT).code)
    token = csrf_token(client, f"/appointments/items/{code}/book")
    client.post(f"/appointments/items/{code}/book", data={"csrf_token": token, "slot": old})
    booked_id = query(
        lambda: db.session.scalar(select(Appointment.id).where(Appointment.slot_id == old))
    )
    page = client.get(f"/appointments/{booked_id}/reschedule").get_data(as_text=True)
    assert f'value="{new}"' in page
    response = client.post(
        f"/appointments/{booked_id}/reschedule", data={"csrf_token": token, "slot": new}
    )
    assert response.status_code == 302
    assert (state(query, old)[0], state(query, new)[0]) == (0, 1)
    assert query(lambda: db.session.get(Appointment, booked_id).slot_id) == new
    # the same slot again is refused next to the field, nothing changes
    response = client.post(
        f"/appointments/{booked_id}/reschedule", data={"csrf_token": token, "slot": new}
    )
    assert response.status_code == 422 and "请选择与原预约不同的时段" in response.get_data(
        as_text=True
    )
    assert (state(query, old)[0], state(query, new)[0]) == (0, 1)
    # once cancelled, no more 改约
    client.post(f"/appointments/{booked_id}/cancel", data={"csrf_token": token})
    response = client.get(f"/appointments/{booked_id}/reschedule")
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/appointments/{booked_id}"
    )


def test_no_show_waits_for_the_slot_to_start(client, query):
    def book_tomorrow():
        actor = user("13800000002")
        target = appointments.target_for_item(actor, item_named(RESIDENCE_PERMIT).code)
        page = appointments.booking_page(target, "SMZX", None)
        booked = appointments.book_appointment(actor, target, page.slots[-1].slot.id)
        db.session.commit()
        return booked.id

    booked_id = query(book_tomorrow)
    login(client, "counter01")
    token = csrf_token(client, "/appointments/hall")
    response = client.post(f"/appointments/hall/{booked_id}/no-show", data={"csrf_token": token})
    assert response.status_code == 302
    assert query(lambda: db.session.get(Appointment, booked_id).status) == "booked"
    assert "预约时段开始后才能标记未到场" in client.get("/appointments/hall").get_data(as_text=True)
    # another hall's clerk: not found
    query(lambda: (setattr(user("counter01"), "hall_id", None), db.session.commit()))
    assert (
        client.post(
            f"/appointments/hall/{booked_id}/no-show", data={"csrf_token": token}
        ).status_code
        == 404
    )


def test_booking_an_item_with_a_draft_says_what_to_finish_online(client, query):
    from tests.workflow_cases import UNEMPLOYMENT

    code, draft_id = query(
        lambda: (
            item_named(UNEMPLOYMENT).code,
            appointments.target_for_item(
                user("13800000001"), item_named(UNEMPLOYMENT).code
            ).application.id,
        )
    )
    login(client, "13800000001")
    html = client.get(f"/appointments/items/{code}/book").get_data(as_text=True)
    assert "申请还没有提交" in html and "申请人姓名：此项必填" in html  # the pre-check's findings
    assert f'href="/apply/drafts/{draft_id}/confirm"' in html
    assert "材料已预审，到场一次办结" not in html
