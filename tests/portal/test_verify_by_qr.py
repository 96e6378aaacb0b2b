"""The public page a QR code opens (/verify/c/<code>, issue 11 §5): no input, the holder
masked, the status, no-store; unknown codes are 404s that a client may not keep guessing; and
production refuses to start without the public address the QR codes point to."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import ELicence
from services import clock, notices, workflow
from tests.workflow_cases import RESIDENCE_PERMIT, submit_case, user


def licence_facts(**changes):
    def run():
        licence = db.session.scalar(select(ELicence).order_by(ELicence.id).limit(1))
        for key, value in changes.items():
            setattr(licence, key, value)
        db.session.commit()
        return {
            "code": licence.verify_code,
            "number": licence.number,
            "name": licence.holder_name,
            "id_number": licence.holder_code,
            "sha256": licence.file_sha256,
        }

    return run


def main_part(html: str) -> str:
    return html.split('id="main"', 1)[1].split("</main>", 1)[0]


def test_the_qr_page_shows_the_masked_holder_and_the_status_with_no_input(client, query):
    facts = query(licence_facts())
    response = client.get(f"/verify/c/{facts['code']}")
    html = response.get_data(as_text=True)
    main = main_part(html)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert 'class="verify-outcome">有效<' in main
    assert facts["number"] in main and facts["sha256"] in main
    name, id_number = facts["name"], facts["id_number"]
    assert name[0] + "*" in main and name not in html
    assert id_number[:6] + "********" + id_number[-4:] in main
    assert id_number not in html and id_number[6:14] not in html  # neither the id nor the birth
    assert "<form" not in main and "/documents/" not in main  # nothing to type, never the file


def test_an_expired_licence_shows_expired(client, query):
    yesterday = clock.local_today() - timedelta(days=1)
    facts = query(licence_facts(valid_until=yesterday))
    main = main_part(client.get(f"/verify/c/{facts['code']}").get_data(as_text=True))
    assert 'class="verify-outcome">已过期<' in main and yesterday.isoformat() in main


def test_a_cancelled_licence_shows_cancelled(client, query):
    facts = query(licence_facts(status="cancelled"))
    main = main_part(client.get(f"/verify/c/{facts['code']}").get_data(as_text=True))
    assert 'class="verify-outcome">已注销<' in main


def test_a_notice_qr_opens_its_page(client, query):
    def issue():
        case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
        workflow.perform(user("reviewer01"), case.id, "accept", case.version)
        [notice] = [n for n in notices.notices_of(case.id) if n.kind == "acceptance"]
        facts = (notice.verify_code, notice.number, notice.sha256, case.applicant.id_number)
        db.session.commit()
        return facts

    code, number, sha256, id_number = query(issue)
    response = client.get(f"/verify/c/{code}")
    main = main_part(response.get_data(as_text=True))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "受理通知书" in main and number in main and sha256 in main
    assert id_number not in main


def test_unknown_codes_are_404_and_too_many_are_429(client, query, app, monkeypatch):
    monkeypatch.setitem(app.config, "VERIFY_MAX_FAILURES", 3)
    good = query(licence_facts())["code"]
    for bad in ("Z" * 32, "not-a-code", good[:-1] + ("A" if good[-1] != "A" else "B")):
        response = client.get(f"/verify/c/{bad}")
        assert response.status_code == 404 and response.headers["Cache-Control"] == "no-store"
        assert "没有找到与该二维码相符的证照或文书" in response.get_data(as_text=True)
    response = client.get("/verify/c/" + "Y" * 32)
    assert response.status_code == 429 and response.headers["Cache-Control"] == "no-store"
    assert "核验次数过多" in response.get_data(as_text=True)
    # once throttled, a good code waits too: the client cannot sort guesses from hits
    assert client.get(f"/verify/c/{good}").status_code == 429
    # another client is not held back
    other = client.get(f"/verify/c/{good}", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 200


def test_the_qr_page_answers_in_english(client, query):
    facts = query(licence_facts())
    with client.session_transaction() as session:
        session["locale"] = "en"
    main = main_part(client.get(f"/verify/c/{facts['code']}").get_data(as_text=True))
    assert "This licence was issued by this portal." in main and "ID number" in main


# --- PUBLIC_BASE_URL ---------------------------------------------------------------------


def production(**extra):
    from portal.config import load_config

    return load_config({"PORTAL_ENV": "production", "SECRET_KEY": "x" * 40, **extra})


def test_production_refuses_to_start_without_the_public_address(monkeypatch, tmp_path):
    from portal import create_app
    from portal.config import ConfigError

    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        create_app(
            {
                "PORTAL_ENV": "production",
                "SECRET_KEY": "x" * 40,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
                "UPLOAD_DIR": str(tmp_path),
            }
        )
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        production(PUBLIC_BASE_URL="zwfw.example.gov.cn")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://zwfw.example.gov.cn/")
    assert production()["PUBLIC_BASE_URL"] == "https://zwfw.example.gov.cn"


def test_a_local_run_falls_back_to_the_local_address(monkeypatch):
    from portal.config import load_config

    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    assert load_config({"PORTAL_ENV": "development"})["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"


def test_make_run_points_the_qr_codes_at_the_address_it_binds():
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert "run: export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)" in makefile
    assert "--bind 127.0.0.1:$(PORT)" in makefile
