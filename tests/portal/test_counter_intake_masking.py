"""The counter's intake page never prints the full 身份证号 or phone it prefills from the
citizen's real-name data (issue 13): they show masked as 取自实名信息, a save keeps the held
value server-side, and 显示完整信息 shows them, logged as a data use the citizen can see."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Application, DataUseLog
from services.identity import mask_id_number, mask_phone
from tests.conftest import csrf_token
from tests.portal.test_counter_keeps_input_routes import TYPED as OTHERS
from tests.portal.test_counter_keeps_input_routes import WALK_IN, _open_intake, _post

TYPED = {
    **OTHERS,
    "q_name": WALK_IN["name"],
    "q_address": WALK_IN["address"],
}  # what the page's other inputs hold


def _answers(query, draft_id):
    return query(lambda: dict(db.session.get(Application, draft_id).form_data or {}))


def _uses(query) -> int:
    return query(lambda: db.session.scalar(select(func.count()).select_from(DataUseLog)))


def test_the_intake_page_masks_the_prefilled_id_number_and_phone(client, login_as, query):
    login_as("counter01")
    intake, draft_id, page = _open_intake(client)
    full_id, phone = WALK_IN["id_number"], WALK_IN["phone"]
    assert full_id not in page and phone not in page
    assert mask_id_number(full_id) in page and mask_phone(phone) in page
    assert "取自实名信息" in page and 'form="reveal-form"' in page

    # 保存 without the masked fields (the page has no input for them): the held values stay
    saved = _post(client, intake, TYPED, intake)
    assert saved.status_code == 302, re.findall(
        r"error[^<]*<[^<]*<[^<]*", saved.get_data(as_text=True)
    )
    answers = _answers(query, draft_id)
    assert answers["id_number"] == full_id and answers["phone"] == phone
    again = client.get(intake).get_data(as_text=True)
    assert full_id not in again and phone not in again

    # a post that names them keeps what it names (the clerk changed it after a reveal)
    before = _uses(query)
    token = csrf_token(client, intake)
    revealed = client.post("/counter/reveal", data={"csrf_token": token, "next": intake})
    assert revealed.status_code == 302 and revealed.headers["Location"].endswith(intake)
    assert _uses(query) == before + 1  # the reveal is in the citizen's data-use log
    shown = client.get(intake).get_data(as_text=True)
    assert f'value="{full_id}"' in shown and f'value="{phone}"' in shown
    changed = _post(client, intake, {**TYPED, "q_phone": "13912340000"}, intake)
    assert changed.status_code == 302
    answers = _answers(query, draft_id)
    assert answers["phone"] == "13912340000" and answers["id_number"] == full_id
