"""The verification code in each e-licence's and notice's QR (issue 11 §5): random and unique,
carried in the QR as {PUBLIC_BASE_URL}/verify/c/<code>, and the public check by code shows
only the masked holder, the item, the dates, the status and the file's sha256."""

from dataclasses import asdict
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Citizen,
    Department,
    ELicence,
    MaterialType,
    Notice,
    User,
    VerificationFailure,
)
from portal.models.base import utcnow
from services import clock, elicences, notices, storage, workflow
from services.errors import TooManyAttempts
from services.identity import mask_id_number, mask_name
from tests.helpers import pdf_text
from tests.workflow_cases import RESIDENCE_PERMIT, submit_case, user

BASE = "https://zwfw.example.gov.cn"


def holder() -> Citizen:
    return db.session.scalar(select(User).where(User.phone == "13800000001")).citizen


def a_licence() -> ELicence:
    return db.session.scalar(
        select(ELicence).where(ELicence.holder_id == holder().id).order_by(ELicence.id)
    )


def misses() -> int:
    return db.session.scalar(select(func.count()).select_from(VerificationFailure))


def issue(**kw) -> ELicence:
    mt = db.session.scalar(select(MaterialType).where(MaterialType.code == "M003"))
    dept = db.session.scalar(select(Department).where(Department.code == "MZ"))
    return elicences.issue_elicence(
        holder=holder(),
        material_type=mt,
        department=dept,
        issued_on=clock.local_today(),
        valid_until=None,
        **kw,
    )


def test_a_licence_qr_carries_its_random_code_under_the_public_address(app_ctx, monkeypatch):
    seen: list[str] = []
    real = elicences.qr_data_uri
    monkeypatch.setattr(elicences, "qr_data_uri", lambda url: seen.append(url) or real(url))
    first = issue(public_base_url=BASE + "/")
    second = issue(public_base_url=BASE)
    assert seen == [f"{BASE}/verify/c/{first.verify_code}", f"{BASE}/verify/c/{second.verify_code}"]
    for code in (first.verify_code, second.verify_code):
        assert len(code) >= 32 and elicences.VERIFY_CODE_RE.fullmatch(code)
    assert first.verify_code != second.verify_code
    # the code is printed under the QR, so that it can be typed when the QR cannot be scanned
    pdf = storage.path_for(app_ctx.config["UPLOAD_DIR"], first.document.storage_key)
    assert first.verify_code in pdf_text(pdf.read_bytes())


def test_a_notice_qr_carries_its_random_code_under_the_configured_address(app_ctx, monkeypatch):
    monkeypatch.setitem(app_ctx.config, "PUBLIC_BASE_URL", BASE)
    seen: list[str] = []
    real = notices.qr_data_uri
    monkeypatch.setattr(notices, "qr_data_uri", lambda url: seen.append(url) or real(url))
    case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    workflow.perform(user("reviewer01"), case.id, "accept", case.version)
    [notice] = [n for n in notices.notices_of(case.id) if n.kind == "acceptance"]
    assert seen == [f"{BASE}/verify/c/{notice.verify_code}"]
    assert len(notice.verify_code) >= 32


def test_every_seeded_licence_has_its_own_code(app_ctx):
    codes = list(db.session.scalars(select(ELicence.verify_code))) + list(
        db.session.scalars(select(Notice.verify_code))
    )
    assert codes and all(len(code) >= 32 for code in codes)
    assert len(set(codes)) == len(codes)


def test_the_check_by_code_shows_the_masked_holder_and_nothing_more(app_ctx):
    licence = a_licence()
    before = misses()
    record = elicences.check_by_code(licence.verify_code, remote_addr="10.0.0.9")
    assert record.kind == "licence" and record.outcome == "valid"
    assert record.number == licence.number and record.item == licence.name
    assert record.sha256 == licence.file_sha256 and record.issued_on == licence.issued_on
    assert record.holder == mask_name(licence.holder_name) != licence.holder_name
    assert record.holder_code == mask_id_number(licence.holder_code)
    assert record.holder_code[6:14] == "********"  # not the birth date
    shown = " ".join(str(value) for value in asdict(record).values())
    assert licence.holder_code not in shown and licence.holder_name not in shown
    assert misses() == before  # a hit is not a miss


def test_an_expired_and_a_cancelled_licence_show_their_status(app_ctx):
    licence = a_licence()
    today = clock.local_today()
    licence.valid_until = today
    assert elicences.check_by_code(licence.verify_code, today=today).outcome == "valid"
    licence.valid_until = today - timedelta(days=1)
    record = elicences.check_by_code(licence.verify_code, today=today)
    assert record.outcome == "expired" and record.valid_until == today - timedelta(days=1)
    licence.valid_until = None
    licence.status = "cancelled"
    assert elicences.check_by_code(licence.verify_code, today=today).outcome == "cancelled"


def test_a_notice_is_found_by_its_code(app_ctx):
    case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    workflow.perform(user("reviewer01"), case.id, "accept", case.version)
    [notice] = [n for n in notices.notices_of(case.id) if n.kind == "acceptance"]
    record = elicences.check_by_code(notice.verify_code)
    assert record.kind == "notice" and record.title == "受理通知书"
    assert record.number == notice.number and record.sha256 == notice.sha256
    assert record.item == case.title and record.issued_on == clock.local_date(notice.issued_at)
    applicant = case.applicant
    assert applicant.id_number not in record.holder_code and applicant.name != record.holder


@pytest.mark.parametrize("code", ["", "short", "A" * 32, "../../etc/passwd" + "x" * 20])
def test_an_unknown_or_malformed_code_is_a_recorded_miss(app_ctx, code):
    before = misses()
    assert elicences.check_by_code(code, remote_addr="10.0.0.7") is None
    assert misses() == before + 1


def test_misses_by_code_and_by_number_throttle_the_address_together(app_ctx):
    good = a_licence().verify_code
    for _ in range(2):
        elicences.check_by_code("Z" * 32, remote_addr="10.0.0.8", max_failures=3)
    elicences.verify_elicence(
        "NOSUCHNUMBER", "110101199001011237", remote_addr="10.0.0.8", max_failures=3
    )
    with pytest.raises(TooManyAttempts):
        elicences.check_by_code(good, remote_addr="10.0.0.8", max_failures=3)
    with pytest.raises(TooManyAttempts):
        elicences.verify_elicence(
            "NOSUCHNUMBER", "110101199001011237", remote_addr="10.0.0.8", max_failures=3
        )
    # another client is not held back
    assert elicences.check_by_code(good, remote_addr="10.0.0.66", max_failures=3) is not None


def test_old_misses_no_longer_count(app_ctx):
    for _ in range(3):
        elicences.check_by_code("Z" * 32, remote_addr="10.0.0.5", max_failures=3)
    db.session.execute(
        VerificationFailure.__table__.update()
        .where(VerificationFailure.remote_addr == "10.0.0.5")
        .values(created_at=utcnow() - timedelta(minutes=16))
    )
    assert elicences.check_by_code(a_licence().verify_code, remote_addr="10.0.0.5", max_failures=3)


def test_licence_outcome_uses_the_day_given(app_ctx):
    licence = ELicence(status="valid", valid_until=date(2026, 12, 1))
    assert elicences.licence_outcome(licence, date(2026, 12, 1)) == "valid"
    assert elicences.licence_outcome(licence, date(2026, 12, 2)) == "expired"


def test_the_migration_gives_every_existing_licence_and_notice_a_code(database_factory):
    """Rows issued before the codes existed get one each when the migration runs."""
    from flask_migrate import downgrade, upgrade

    from tests.conftest import MIGRATIONS

    app = database_factory("verify-codes-backfill", seed=True)
    with app.app_context():
        case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
        workflow.perform(user("reviewer01"), case.id, "accept", case.version)
        db.session.commit()
        counts = {
            table: db.session.scalar(select(func.count()).select_from(model))
            for table, model in (("elicences", ELicence), ("notices", Notice))
        }
        db.session.remove()
        downgrade(directory=str(MIGRATIONS), revision="0008_counter")
        upgrade(directory=str(MIGRATIONS))
        for table, model in (("elicences", ELicence), ("notices", Notice)):
            codes = list(db.session.scalars(select(model.verify_code)))
            assert len(codes) == counts[table] > 0, table
            assert len(set(codes)) == len(codes) and all(len(c) >= 32 for c in codes), table
            assert all(elicences.VERIFY_CODE_RE.fullmatch(c) for c in codes), table
        db.session.remove()
