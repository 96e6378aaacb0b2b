"""E-licences: the QR code's absolute address and the public check by number and holder code."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from stdnum.cn import ric

from portal.extensions import db
from portal.models import Citizen, Department, ELicence, MaterialType, User, VerificationFailure
from services import clock, elicences
from services.errors import TooManyAttempts, ValidationError


def holder() -> Citizen:
    return db.session.scalar(select(User).where(User.phone == "13800000001")).citizen


def a_licence() -> ELicence:
    return db.session.scalar(
        select(ELicence).where(ELicence.holder_id == holder().id).order_by(ELicence.id)
    )


def failures() -> int:
    return db.session.scalar(select(func.count()).select_from(VerificationFailure))


def test_the_qr_code_carries_an_absolute_verification_url(app_ctx, monkeypatch):
    seen: list[str] = []
    real = elicences.qr_data_uri
    monkeypatch.setattr(elicences, "qr_data_uri", lambda url: seen.append(url) or real(url))
    mt = db.session.scalar(select(MaterialType).where(MaterialType.code == "M003"))
    dept = db.session.scalar(select(Department).where(Department.code == "MZ"))
    licence = elicences.issue_elicence(
        holder=holder(),
        material_type=mt,
        department=dept,
        issued_on=clock.local_today(),
        valid_until=None,
        public_base_url="https://zwfw.example.gov.cn/",
    )
    assert seen == [f"https://zwfw.example.gov.cn/verify/c/{licence.verify_code}"]
    assert licence.document.grade.value == "A" and licence.file_sha256 == licence.document.sha256


def test_the_demo_licences_point_at_the_configured_public_address(app_ctx):
    assert app_ctx.config["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"
    assert (
        elicences.verification_url("http://127.0.0.1:5000", "GA2026")
        == "http://127.0.0.1:5000/verify?number=GA2026"
    )


def test_a_valid_licence_is_confirmed_with_the_holder_code(app_ctx):
    licence = a_licence()
    result = elicences.verify_elicence(
        licence.number.lower(), " " + licence.holder_code.lower(), remote_addr="10.0.0.1"
    )
    assert result.outcome == "valid" and result.licence.id == licence.id


@pytest.mark.parametrize(
    "status, valid_until, outcome",
    [
        ("cancelled", None, "cancelled"),
        ("expired", None, "expired"),
        ("valid", clock.local_today() - timedelta(days=1), "expired"),
        ("valid", clock.local_today(), "valid"),
    ],
)
def test_cancelled_and_expired_licences(app_ctx, status, valid_until, outcome):
    licence = a_licence()
    licence.status, licence.valid_until = status, valid_until
    db.session.flush()
    assert elicences.verify_elicence(licence.number, licence.holder_code).outcome == outcome


def test_a_wrong_holder_code_answers_like_an_unknown_number(app_ctx):
    licence = a_licence()
    other = db.session.scalar(select(User).where(User.phone == "13800000002")).citizen
    wrong = elicences.verify_elicence(licence.number, other.id_number, remote_addr="10.0.0.2")
    unknown = elicences.verify_elicence(
        "GA20990101DEADBEEF", licence.holder_code, remote_addr="10.0.0.2"
    )
    assert wrong == unknown == elicences.Verification("not_found", None)


@pytest.mark.parametrize(
    "number, code, field",
    [
        ("", "11010519491231002X", "number"),
        ("GA<script>", "11010519491231002X", "number"),
        ("A" * 65, "11010519491231002X", "number"),
        ("GA2026", "", "holder_code"),
        ("GA2026", "1234", "holder_code"),
        ("GA2026", "110105194912310021", "holder_code"),  # a 身份证号 with a wrong check
        ("GA2026", "91330100MA27XL0E2Q", "holder_code"),  # a 信用代码 with a wrong check
        ("GA2026", "' OR 1=1 --", "holder_code"),
    ],
)
def test_malformed_input_is_refused_and_not_counted(app_ctx, number, code, field):
    before = failures()
    with pytest.raises(ValidationError) as exc:
        elicences.verify_elicence(number, code)
    assert field in exc.value.errors
    assert failures() == before


def test_guessing_is_throttled_per_address(app_ctx):
    licence = a_licence()
    for _ in range(3):
        elicences.verify_elicence(
            f"X{_}", licence.holder_code, remote_addr="10.0.0.3", max_failures=3
        )
    with pytest.raises(TooManyAttempts):
        elicences.verify_elicence(
            licence.number, licence.holder_code, remote_addr="10.0.0.3", max_failures=3
        )
    # another address is not affected
    assert (
        elicences.verify_elicence(
            licence.number, licence.holder_code, remote_addr="10.0.0.4", max_failures=3
        ).outcome
        == "valid"
    )


def test_guessing_one_licences_holder_code_from_many_addresses_is_throttled(app_ctx):
    licence = a_licence()
    for n in range(3):
        guess = f"11010519491231{n:03d}"
        guess += ric.calc_check_digit(guess + "0")  # well formed, only not the holder's
        result = elicences.verify_elicence(
            licence.number, guess, remote_addr=f"10.1.0.{n}", max_failures=3
        )
        assert result.outcome == "not_found"
    with pytest.raises(TooManyAttempts):
        elicences.verify_elicence(
            licence.number, licence.holder_code, remote_addr="10.1.1.1", max_failures=3
        )


def test_old_failures_no_longer_count(app_ctx):
    from portal.models.base import utcnow

    licence = a_licence()
    for _ in range(3):
        db.session.add(
            VerificationFailure(
                number=licence.number,
                remote_addr="10.0.0.9",
                created_at=utcnow() - timedelta(minutes=16),
            )
        )
    db.session.flush()
    assert (
        elicences.verify_elicence(
            licence.number,
            licence.holder_code,
            remote_addr="10.0.0.9",
            max_failures=3,
            window_minutes=15,
        ).outcome
        == "valid"
    )
