"""services.sms_codes below the views: the scheduled purge of finished and abandoned flows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import PhoneChallenge, SmsCode
from services import jobs, phone_accounts, sms_codes

START = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def _register() -> PhoneChallenge:
    challenge, _token = phone_accounts.start_registration(
        phone="13911112222",
        password="Qingshan2026!",
        name="孙七",
        id_number="11010519491231002X",
        address="",
        remote_addr="192.0.2.1",
    )
    return challenge


def test_an_abandoned_registration_forgets_its_data_then_goes(app_ctx):
    with time_machine.travel(START, tick=False):
        challenge = _register()
        challenge_id = challenge.id
        assert challenge.payload["id_number"] == "11010519491231002X"
        assert sms_codes.purge_old_challenges() == 0
        assert db.session.get(PhoneChallenge, challenge_id).payload  # still open
    with time_machine.travel(START + timedelta(minutes=61), tick=False):
        sms_codes.purge_old_challenges()
        db.session.expire_all()
        assert db.session.get(PhoneChallenge, challenge_id).payload == {}
    with time_machine.travel(START + timedelta(days=1, minutes=1), tick=False):
        assert jobs.run_jobs().phone_challenges_purged == 1
        assert db.session.get(PhoneChallenge, challenge_id) is None
        assert db.session.scalar(select(func.count()).select_from(SmsCode)) == 0
