"""The reviewer workspace and the citizen's casework pages through the web layer."""

import hashlib
import io
import re
from pathlib import Path

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Application, Event, FollowUpTicket, Notice, Rating
from services import clock, workflow
from services.identity import mask_id_number, mask_name
from tests.conftest import csrf_token, login
from tests.helpers import submit_committed_case
from tests.portal.test_apply_routes import counting
from tests.workflow_cases import UNEMPLOYMENT, submit_case, user


def case_state(query, case_id):
    return query(lambda: (lambda a: (a.status, a.version))(db.session.get(Application, case_id)))


def act(client, case_id, action, version, **data):
    token = csrf_token(client, f"/review/cases/{case_id}")
    payload = {
        "csrf_token": token,
        "version": str(version),
        **{f"{action}-{k}": v for k, v in data.items()},
    }
    return client.post(f"/review/cases/{case_id}/actions/{action}", data=payload)


def test_the_queue_lists_only_the_departments_cases_with_badges(client, query):
    police = submit_committed_case(query)
    labour = submit_committed_case(query, item=UNEMPLOYMENT, conditions={"reason": "graduate"})
    number = query(lambda: db.session.get(Application, police).number)
    other = query(lambda: db.session.get(Application, labour).number)
    login(client, "reviewer01")
    html = client.get("/review/").get_data(as_text=True)
    assert number in html and other not in html
    assert re.search(r'class="badge badge-\w+">(剩余 \d+ 个工作日|今日到期|已超期 \d+ 天)<', html)
    filtered = client.get("/review/?status=in_review").get_data(as_text=True)
    assert number not in filtered
    assert client.get("/review/?status=submitted&due=soon&item=999999&step=x").status_code == 200


def test_the_queue_loads_in_a_fixed_number_of_queries(app, client, query):
    submit_committed_case(query)
    login(client, "reviewer01")
    client.get("/review/")
    with counting(app) as one:
        client.get("/review/")
    for _ in range(3):
        submit_committed_case(query)
    with counting(app) as four:
        client.get("/review/")
    assert len(four) == len(one), (len(one), len(four))


def test_another_departments_case_is_not_found_everywhere(client, query):
    case_id = submit_committed_case(query)
    material_id = query(
        lambda: next(m.id for m in db.session.get(Application, case_id).materials if m.document_id)
    )
    version = case_state(query, case_id)[1]
    login(client, "reviewer02")
    assert client.get(f"/review/cases/{case_id}").status_code == 404
    assert client.get(f"/review/cases/{case_id}/materials/{material_id}/file").status_code == 404
    token = csrf_token(client, "/review/")
    response = client.post(
        f"/review/cases/{case_id}/actions/accept", data={"csrf_token": token, "version": version}
    )
    assert response.status_code == 404
    assert (
        client.post(f"/review/cases/{case_id}/reveal", data={"csrf_token": token}).status_code
        == 404
    )
    assert case_state(query, case_id) == ("submitted", version)


def test_applicant_data_is_masked_until_a_logged_reveal(client, query):
    case_id = submit_committed_case(query)
    name, id_number = query(
        lambda: (lambda c: (c.name, c.id_number))(db.session.get(Application, case_id).applicant)
    )
    login(client, "reviewer01")
    html = client.get(f"/review/cases/{case_id}").get_data(as_text=True)
    assert mask_name(name) in html and mask_id_number(id_number) in html
    assert id_number not in html
    token = csrf_token(client, f"/review/cases/{case_id}")
    response = client.post(f"/review/cases/{case_id}/reveal", data={"csrf_token": token})
    assert response.status_code == 302
    html = client.get(f"/review/cases/{case_id}").get_data(as_text=True)
    assert id_number in html
    details = query(
        lambda: db.session.scalar(
            select(Event.details).where(
                Event.application_id == case_id, Event.action == "personal_data_revealed"
            )
        )
    )
    assert details["department"] == "市公安局"
    citizen = client.application.test_client()
    login(citizen, "13800000002")
    assert "工作人员查看完整身份信息（市公安局" in citizen.get(f"/cases/{case_id}").get_data(
        as_text=True
    )


def test_a_decision_by_the_web_and_a_stale_form_is_told_to_refresh(client, query):
    case_id = submit_committed_case(query)
    _, version = case_state(query, case_id)
    login(client, "reviewer01")
    assert act(client, case_id, "accept", version).status_code == 302
    assert case_state(query, case_id) == ("accepted", version + 1)
    stale = act(client, case_id, "accept", version)
    assert stale.status_code == 302
    page = client.get(stale.headers["Location"]).get_data(as_text=True)
    assert "该办件已被他人处理，请刷新后重试" in page
    assert case_state(query, case_id) == ("accepted", version + 1)


def test_a_denial_without_reasons_shows_the_error_next_to_the_field(client, query):
    case_id = submit_committed_case(query)
    reviewer = query(lambda: user("reviewer01").id)

    def to_review():
        from portal.models import User

        actor = db.session.get(User, reviewer)
        app = db.session.get(Application, case_id)
        workflow.perform(actor, case_id, "accept", app.version)
        workflow.perform(actor, case_id, "start_review", app.version)
        db.session.commit()
        return app.version

    version = query(to_review)
    login(client, "reviewer01")
    response = act(client, case_id, "deny", version, reasons="")
    assert response.status_code == 422
    assert 'id="deny-reasons-error"' in response.get_data(as_text=True)
    assert case_state(query, case_id) == ("in_review", version)
    assert act(client, case_id, "bogus", version).status_code == 404
    token = csrf_token(client, "/review/")
    no_version = client.post(
        f"/review/cases/{case_id}/actions/start_review", data={"csrf_token": token}
    )
    assert no_version.status_code == 400


def test_itemised_correction_and_a_resubmission_that_changes_only_those_items(client, query):
    case_id = submit_committed_case(query)
    photo = query(
        lambda: next(
            m.id
            for m in db.session.get(Application, case_id).materials
            if m.requirement.material_type.name == "证件照数码回执"
        )
    )
    login(client, "reviewer01")
    token = csrf_token(client, f"/review/cases/{case_id}")
    bad = client.post(
        f"/review/cases/{case_id}/materials/{photo}/verdict",
        data={"csrf_token": token, f"v{photo}-verdict": "correct", f"v{photo}-reason": ""},
    )
    assert bad.status_code == 422 and f'id="v{photo}-reason-error"' in bad.get_data(as_text=True)
    client.post(
        f"/review/cases/{case_id}/materials/{photo}/verdict",
        data={
            "csrf_token": token,
            f"v{photo}-verdict": "correct",
            f"v{photo}-reason": "背景不是白色",
        },
    )
    _, version = case_state(query, case_id)
    missing_reason = client.post(
        f"/review/cases/{case_id}/correction",
        data={"csrf_token": token, "version": version, "f_address": "y", "r_address": ""},
    )
    assert missing_reason.status_code == 422 and 'id="r_address-error"' in missing_reason.get_data(
        as_text=True
    )
    ok = client.post(
        f"/review/cases/{case_id}/correction",
        data={
            "csrf_token": token,
            "version": version,
            "f_address": "y",
            "r_address": "请写到门牌号",
        },
    )
    assert ok.status_code == 302
    assert case_state(query, case_id)[0] == "correction_required"

    citizen = client.application.test_client()
    login(citizen, "13800000002")
    page = citizen.get(f"/cases/{case_id}/correction").get_data(as_text=True)
    assert "背景不是白色" in page and "请写到门牌号" in page
    assert 'name="q_address"' in page and 'name="q_phone"' not in page  # everything else is locked
    phone_before = query(lambda: db.session.get(Application, case_id).form_data["phone"])
    _, version = case_state(query, case_id)
    token = csrf_token(citizen, f"/cases/{case_id}/correction")
    no_photo = citizen.post(
        f"/cases/{case_id}/correction",
        data={"csrf_token": token, "version": version, "q_address": "人民路 8 号 2 室"},
    )
    assert no_photo.status_code == 422  # the photo must be replaced too
    assert case_state(query, case_id)[0] == "correction_required"

    def new_photo():
        from tests.workflow_cases import upload

        app = db.session.get(Application, case_id)
        material = next(m for m in app.materials if m.id == photo)
        doc = upload(app.applicant, material.requirement.material_type, colour=(255, 255, 255))
        db.session.commit()
        return material.requirement_id, doc.id

    req_id, doc_id = query(new_photo)
    done = citizen.post(
        f"/cases/{case_id}/correction",
        data={
            "csrf_token": token,
            "version": version,
            "q_address": "人民路 8 号 2 室",
            "q_phone": "13900000000",
            f"m_{req_id}": f"doc:{doc_id}",
        },
    )
    assert done.status_code == 302
    status, _ = case_state(query, case_id)
    data = query(lambda: db.session.get(Application, case_id).form_data)
    assert (
        status == "submitted"
        and data["address"] == "人民路 8 号 2 室"
        and data["phone"] == phone_before
    )
    other = client.application.test_client()
    login(other, "13800000001")
    assert other.get(f"/cases/{case_id}/correction").status_code == 404


def test_notices_are_served_from_storage_to_the_owner_and_the_department_only(client, query):
    case_id = submit_committed_case(query)
    login(client, "reviewer01")
    act(client, case_id, "accept", case_state(query, case_id)[1])
    notice_id, sha = query(
        lambda: db.session.execute(
            select(Notice.id, Notice.sha256).where(Notice.application_id == case_id)
        ).one()
    )
    staff = client.get(f"/review/cases/{case_id}/notices/{notice_id}")
    assert staff.mimetype == "application/pdf" and hashlib.sha256(staff.data).hexdigest() == sha
    citizen = client.application.test_client()
    login(citizen, "13800000002")
    mine = citizen.get(f"/cases/{case_id}/notices/{notice_id}")
    assert hashlib.sha256(mine.data).hexdigest() == sha
    assert "受理通知书" in citizen.get(f"/cases/{case_id}").get_data(as_text=True)
    stranger = client.application.test_client()
    login(stranger, "13800000001")
    assert stranger.get(f"/cases/{case_id}/notices/{notice_id}").status_code == 404
    other_dept = client.application.test_client()
    login(other_dept, "reviewer02")
    assert other_dept.get(f"/review/cases/{case_id}/notices/{notice_id}").status_code == 404


def test_the_verification_page_answers_without_personal_data(client, query):
    case_id = submit_committed_case(query)
    login(client, "reviewer01")
    act(client, case_id, "accept", case_state(query, case_id)[1])
    number, check, name = query(
        lambda: (
            lambda n: (n.number, n.check_code, db.session.get(Application, case_id).applicant.name)
        )(db.session.scalar(select(Notice).where(Notice.application_id == case_id)))
    )
    anonymous = client.application.test_client()
    found = anonymous.get(f"/notices/verify?code={number}-{check}").get_data(as_text=True)
    assert "核验通过" in found and number in found and name not in found
    assert "查无此文书" in anonymous.get(f"/notices/verify?code={number}-deadbeef").get_data(
        as_text=True
    )
    assert "查无此文书" in anonymous.get("/notices/verify?code=<script>").get_data(as_text=True)
    empty = anonymous.get("/notices/verify?code=").get_data(as_text=True)
    assert "请填写核验码" in empty


def test_material_files_are_served_inline_with_a_safe_type(client, query):
    case_id = submit_committed_case(query)
    material_id = query(
        lambda: next(m.id for m in db.session.get(Application, case_id).materials if m.document_id)
    )
    login(client, "reviewer01")
    response = client.get(f"/review/cases/{case_id}/materials/{material_id}/file")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["Content-Disposition"].startswith("inline")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/review/cases/{case_id}/materials/999999/file").status_code == 404


def test_rating_once_and_a_bad_rating_opens_a_ticket_for_admins(client, query):
    case_id = query(
        lambda: db.session.scalar(
            select(Application.id).where(
                Application.applicant_id == user("13800000001").citizen_id,
                Application.status == "completed",
            )
        )
    )
    login(client, "13800000001")
    token = csrf_token(client, f"/cases/{case_id}/rate")
    indicators = {
        f"i_{k}": "1" for k in ("overall", "efficiency", "guide", "convenience", "usability")
    }
    bad = client.post(
        f"/cases/{case_id}/rate", data={"csrf_token": token, "score": "9", **indicators}
    )
    assert bad.status_code == 422
    assert (
        query(
            lambda: db.session.scalar(
                select(func.count()).select_from(Rating).where(Rating.application_id == case_id)
            )
        )
        == 0
    )
    ok = client.post(
        f"/cases/{case_id}/rate",
        data={
            "csrf_token": token,
            "score": "1",
            **indicators,
            "t_overdue": "y",
            "comment": "等了很久",
        },
    )
    assert ok.status_code == 302
    again = client.post(
        f"/cases/{case_id}/rate", data={"csrf_token": token, "score": "5", **indicators}
    )
    assert again.status_code == 302
    ratings = query(
        lambda: db.session.scalars(
            select(Rating.score).where(Rating.application_id == case_id)
        ).all()
    )
    assert ratings == [1]
    ticket = query(
        lambda: db.session.scalar(
            select(FollowUpTicket).where(FollowUpTicket.application_id == case_id)
        )
    )
    assert ticket.status == "verifying"
    admin = client.application.test_client()
    login(admin, "admin")
    assert "待核实" in admin.get("/review/admin/").get_data(as_text=True)
    token = csrf_token(admin, "/review/admin/")
    wrong = admin.post(
        f"/review/admin/tickets/{ticket.id}",
        data={
            "csrf_token": token,
            f"t{ticket.id}-to_status": "revisited",
            f"t{ticket.id}-note": "跳步",
        },
    )
    assert wrong.status_code == 422
    moved = admin.post(
        f"/review/admin/tickets/{ticket.id}",
        data={
            "csrf_token": token,
            f"t{ticket.id}-to_status": "rectifying",
            f"t{ticket.id}-note": "已核实超期",
        },
    )
    assert moved.status_code == 302
    assert query(lambda: db.session.get(FollowUpTicket, ticket.id).status) == "rectifying"


def test_admin_records_a_correction_exception_with_errors_next_to_the_fields(client, query):
    login(client, "admin")
    token = csrf_token(client, "/review/admin/")
    response = client.post(
        "/review/admin/exceptions", data={"csrf_token": token, "case": "NO-SUCH", "reason": "x"}
    )
    assert response.status_code == 422 and 'id="case-error"' in response.get_data(as_text=True)


def test_supplying_deferred_materials_refuses_someone_elses_document(client, query):
    def deferred_case():
        case = submit_case(
            "13800000002",
            UNEMPLOYMENT,
            {"reason": "dismissed"},
            options={"解除或终止劳动关系证明": "deferred"},
        )
        workflow.perform(
            user("reviewer02"),
            case.id,
            "accept_pending_materials",
            case.version,
            supply_deadline=clock.local_date(case.submitted_at),
        )
        proof = next(m for m in case.materials if m.satisfied_by.value == "deferred")
        from tests.workflow_cases import upload

        mine = upload(case.applicant, proof.requirement.material_type)
        theirs = upload(user("13800000001").citizen, proof.requirement.material_type)
        db.session.commit()
        return case.id, case.version, proof.requirement_id, mine.id, theirs.id

    case_id, version, req_id, mine, theirs = query(deferred_case)
    login(client, "13800000002")
    page = client.get(f"/cases/{case_id}/supply").get_data(as_text=True)
    assert f'value="doc:{mine}"' in page and f'value="doc:{theirs}"' not in page
    token = csrf_token(client, f"/cases/{case_id}/supply")
    refused = client.post(
        f"/cases/{case_id}/supply",
        data={"csrf_token": token, "version": version, f"m_{req_id}": f"doc:{theirs}"},
    )
    assert refused.status_code == 422
    malformed = client.post(
        f"/cases/{case_id}/supply",
        data={"csrf_token": token, "version": version, f"m_{req_id}": "doc:../../etc"},
    )
    assert malformed.status_code == 400
    done = client.post(
        f"/cases/{case_id}/supply",
        data={"csrf_token": token, "version": version, f"m_{req_id}": f"doc:{mine}"},
    )
    assert done.status_code == 302
    material = query(
        lambda: next(
            m for m in db.session.get(Application, case_id).materials if m.requirement_id == req_id
        )
    )
    assert material.document_id == mine and material.verdict == "supplied"


def test_withdrawal_through_the_web_uses_the_version_the_citizen_saw(client, query):
    case_id = submit_committed_case(query)
    _, version = case_state(query, case_id)
    login(client, "13800000002")
    token = csrf_token(client, f"/cases/{case_id}")
    stale = client.post(
        f"/cases/{case_id}/withdraw", data={"csrf_token": token, "version": version - 1}
    )
    assert stale.status_code == 409
    assert (
        client.post(
            f"/cases/{case_id}/withdraw", data={"csrf_token": token, "version": version}
        ).status_code
        == 302
    )
    assert case_state(query, case_id)[0] == "withdrawn"


def test_oversized_and_malformed_decisions_are_refused_and_change_nothing(client, query):
    case_id = submit_committed_case(query)
    other_case = submit_committed_case(query, login_name="13800000003")
    other_material = query(lambda: db.session.get(Application, other_case).materials[0].id)

    def to_review():
        from portal.models import User

        actor = db.session.get(User, query_reviewer)
        app = db.session.get(Application, case_id)
        workflow.perform(actor, case_id, "accept", app.version)
        workflow.perform(actor, case_id, "start_review", app.version)
        db.session.commit()
        return app.version

    query_reviewer = query(lambda: user("reviewer01").id)
    version = query(to_review)
    login(client, "reviewer01")
    too_long = act(client, case_id, "deny", version, reasons="理" * 2001)
    assert too_long.status_code == 422 and 'id="deny-reasons-error"' in too_long.get_data(
        as_text=True
    )
    bad_days = act(
        client, case_id, "suspend", version, kind="hearing", reason="听证", expected_days="999"
    )
    assert bad_days.status_code == 422 and 'id="suspend-expected_days-error"' in bad_days.get_data(
        as_text=True
    )
    bad_kind = act(
        client, case_id, "suspend", version, kind="<script>", reason="x", expected_days="3"
    )
    assert bad_kind.status_code == 422
    bad_assignee = act(
        client, case_id, "assign", version, assignee_id=str(query(lambda: user("reviewer02").id))
    )
    assert bad_assignee.status_code == 422
    token = csrf_token(client, f"/review/cases/{case_id}")
    foreign = client.post(
        f"/review/cases/{case_id}/materials/{other_material}/verdict",
        data={"csrf_token": token, f"v{other_material}-verdict": "ok"},
    )
    assert foreign.status_code == 404
    visit = client.post(
        f"/review/cases/{case_id}/visits", data={"csrf_token": token, "visit-kind": "party"}
    )
    assert visit.status_code == 422
    assert case_state(query, case_id) == ("in_review", version)
    assert query(lambda: db.session.get(Application, case_id).visit_count) == 0


def test_the_case_page_shows_the_failed_auto_approval_rules(client, query):
    from tests.workflow_cases import RESIDENCE_REGISTRATION

    case_id = submit_committed_case(
        query,
        item=RESIDENCE_REGISTRATION,
        conditions={"housing": "rent"},
        options={"房屋租赁合同": "commitment"},
    )
    login(client, "reviewer01")
    html = client.get(f"/review/cases/{case_id}").get_data(as_text=True)
    assert "秒批未通过的规则" in html
    assert "没有有效的居民身份证电子证照" in html and "租的房子" in html and "自己的房子" in html
    assert "告知承诺受理" in html and f'action="/review/cases/{case_id}/actions/accept"' not in html


def test_steps_suspension_and_delivery_through_the_web(client, query):
    """户口迁移 (公安局, 10 工作日, no e-licence): the result waits for delivery after approval."""
    case_id = submit_committed_case(
        query,
        item="户口迁移（投靠直系亲属迁入）",
        conditions={"relation": "kin", "divorced": "no"},
        answers={"host_id_number": "11010519491231002X"},
    )
    login(client, "reviewer01")
    reviewer_id = query(lambda: user("reviewer01").id)
    state = lambda: case_state(query, case_id)  # noqa: E731
    act(client, case_id, "accept", state()[1])
    act(client, case_id, "start_review", state()[1])
    step_before = query(lambda: db.session.get(Application, case_id).current_step)
    assert (
        act(client, case_id, "advance_step", state()[1], assignee_id=str(reviewer_id)).status_code
        == 302
    )
    assert query(lambda: db.session.get(Application, case_id).current_step) == step_before + 1
    assert (
        act(
            client,
            case_id,
            "suspend",
            state()[1],
            kind="expert",
            reason="需专家评审亲属关系",
            expected_days="5",
        ).status_code
        == 302
    )
    assert state()[0] == "suspended"
    queue = client.get("/review/?status=suspended").get_data(as_text=True)
    assert "特别程序中，计时暂停" in queue
    act(client, case_id, "resume", state()[1])
    act(client, case_id, "approve", state()[1], opinion="")
    # no 制证 step, and the applicant's method is the guide's first: 电子送达 completes at once
    # (the mail form's refusals: tests/portal/test_delivery_routes.py)
    assert state()[0] == "completed"
    assert query(lambda: db.session.get(Application, case_id).delivery_method) == "online"
    kinds = query(
        lambda: db.session.scalars(
            select(Notice.kind).where(Notice.application_id == case_id).order_by(Notice.id)
        ).all()
    )
    assert kinds == ["acceptance", "approval", "completion"]


def correction_of_the_photo(client, query):
    """A case whose 证件照 the reviewer sent back for 补正 (一次性告知); returns (case, requirement)."""
    case_id = submit_committed_case(query)
    photo = query(
        lambda: next(
            m
            for m in db.session.get(Application, case_id).materials
            if m.requirement.material_type.name == "证件照数码回执"
        )
    )
    login(client, "reviewer01")
    token = csrf_token(client, f"/review/cases/{case_id}")
    client.post(
        f"/review/cases/{case_id}/materials/{photo.id}/verdict",
        data={
            "csrf_token": token,
            f"v{photo.id}-verdict": "correct",
            f"v{photo.id}-reason": "背景不是白色",
        },
    )
    client.post(
        f"/review/cases/{case_id}/correction",
        data={"csrf_token": token, "version": case_state(query, case_id)[1]},
    )
    assert case_state(query, case_id)[0] == "correction_required"
    return case_id, photo.requirement_id


def test_a_new_file_uploaded_on_the_correction_page_is_preselected_and_resubmitted(client, query):
    from portal.models import Document
    from tests import files

    case_id, req_id = correction_of_the_photo(client, query)
    citizen = client.application.test_client()
    login(citizen, "13800000002")
    page = citizen.get(f"/cases/{case_id}/correction").get_data(as_text=True)
    action = f"/cases/{case_id}/correction/materials/{req_id}/upload"
    assert f'action="{action}"' in page and 'enctype="multipart/form-data"' in page
    token = csrf_token(citizen, f"/cases/{case_id}/correction")
    docs = lambda: db.session.scalar(select(func.count()).select_from(Document))  # noqa: E731

    def stored():
        return sorted(
            p for p in Path(client.application.config["UPLOAD_DIR"]).rglob("*") if p.is_file()
        )

    before_rows, before_files = query(docs), stored()

    bad = citizen.post(
        action,
        data={"csrf_token": token, "file": (io.BytesIO(b"MZ not an image"), "photo.png")},
        content_type="multipart/form-data",
    )
    html = bad.get_data(as_text=True)
    assert (
        bad.status_code == 422
        and f'id="u{req_id}_file-error"' in html
        and 'aria-invalid="true"' in html
    )
    assert query(docs) == before_rows and stored() == before_files  # no row, no orphan file

    other = query(
        lambda: next(
            m.requirement_id
            for m in db.session.get(Application, case_id).materials
            if m.requirement_id != req_id
        )
    )
    refused = citizen.post(
        f"/cases/{case_id}/correction/materials/{other}/upload",
        data={"csrf_token": token, "file": (io.BytesIO(files.png()), "x.png")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 404 and query(docs) == before_rows  # not in the correction notice

    good = citizen.post(
        action,
        data={
            "csrf_token": token,
            "issued_on": clock.local_today().isoformat(),
            "file": (io.BytesIO(files.png()), "white.png"),
        },
        content_type="multipart/form-data",
    )
    assert good.status_code == 302, re.findall(
        r"class=\"error\"[^<]*<[^<]*</span>([^<]*)", good.get_data(as_text=True)
    )
    assert good.headers["Location"].endswith(f"/cases/{case_id}/correction#m_{req_id}")
    new_id = query(lambda: db.session.scalar(select(func.max(Document.id))))
    assert query(docs) == before_rows + 1
    page = citizen.get(f"/cases/{case_id}/correction").get_data(as_text=True)
    assert re.search(
        rf'<input type="radio" form="resubmit" name="m_{req_id}" id="m_{req_id}-d{new_id}" '
        rf'value="doc:{new_id}" checked>',
        page,
    )
    done = citizen.post(
        f"/cases/{case_id}/correction",
        data={
            "csrf_token": token,
            "version": case_state(query, case_id)[1],
            f"m_{req_id}": f"doc:{new_id}",
        },
    )
    assert done.status_code == 302 and case_state(query, case_id)[0] == "submitted"
    used = query(
        lambda: next(
            m.document_id
            for m in db.session.get(Application, case_id).materials
            if m.requirement_id == req_id
        )
    )
    assert used == new_id
    stranger = client.application.test_client()
    login(stranger, "13800000001")
    assert (
        stranger.post(
            action,
            data={
                "csrf_token": csrf_token(stranger, "/cases"),
                "file": (io.BytesIO(files.png()), "x.png"),
            },
            content_type="multipart/form-data",
        ).status_code
        == 404
    )


def test_reviewer_reminders_are_messages_with_an_unread_count_in_the_nav(client, query):
    from services import review

    police = submit_committed_case(query)
    labour = submit_committed_case(query, item=UNEMPLOYMENT, conditions={"reason": "graduate"})

    def remind():
        for case_id, body in (
            (police, "公安提醒：办件即将到期"),
            (labour, "人社提醒：不该被公安看到"),
        ):
            workflow.remind_department(db.session.get(Application, case_id), "due_soon", body)
        db.session.commit()
        return review.unread_reminder_count(user("reviewer01"))

    unread = query(remind)
    assert unread >= 1
    login(client, "reviewer01")
    queue = client.get("/review/").get_data(as_text=True)
    assert re.search(
        rf'href="/review/messages"[^>]*>消息 <span class="nav-count">（{unread} 条未读）</span>',
        queue,
    )
    page = client.get("/review/messages").get_data(as_text=True)
    assert "公安提醒：办件即将到期" in page and "不该被公安看到" not in page
    assert "办件即将到期</h2>" in page and f'href="/review/cases/{police}"' in page
    assert page.count('<span class="tag">未读</span>') == unread
    token = csrf_token(client, "/review/messages")
    done = client.post("/review/reminders/read", data={"csrf_token": token, "back": "messages"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/review/messages")
    assert query(lambda: review.unread_reminder_count(user("reviewer01"))) == 0
    assert (
        query(lambda: review.unread_reminder_count(user("reviewer02"))) >= 1
    )  # 人社's stays unread
    page = client.get("/review/messages").get_data(as_text=True)
    assert (
        "公安提醒：办件即将到期" in page
        and "条未读" not in page
        and '<span class="tag">未读</span>' not in page
    )


def test_the_citizen_rates_each_visit_on_the_case_page(client, query):
    from services import visits

    case_id = submit_committed_case(query)

    def two_visits():
        case = db.session.get(Application, case_id)
        visits.record_visit(case, user("reviewer01"), "original_check")
        visits.record_visit(case, user("reviewer01"), "pickup", "证件需当面签收")
        db.session.commit()

    query(two_visits)
    login(client, "13800000002")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    for n in (1, 2):
        assert f'action="/cases/{case_id}/visits/{n}/rate"' in page and f'name="v{n}-score"' in page
    token = re.search(r'name="v1-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    missing = client.post(f"/cases/{case_id}/visits/1/rate", data={"v1-csrf_token": token})
    assert missing.status_code == 422 and 'id="v1-score-error"' in missing.get_data(as_text=True)
    assert (
        query(
            lambda: db.session.scalar(
                select(func.count()).select_from(Rating).where(Rating.application_id == case_id)
            )
        )
        == 0
    )
    bad = client.post(
        f"/cases/{case_id}/visits/2/rate",
        data={"v2-csrf_token": token, "v2-score": "2", "v2-comment": "让我跑了两次"},
    )
    assert bad.status_code == 302
    rated = query(
        lambda: [
            (
                r.visit_no,
                r.score,
                db.session.scalar(
                    select(func.count())
                    .select_from(FollowUpTicket)
                    .where(FollowUpTicket.rating_id == r.id)
                ),
            )
            for r in db.session.scalars(select(Rating).where(Rating.application_id == case_id))
        ]
    )
    assert rated == [(2, 2, 1)]
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "让我跑了两次" in page and 'name="v2-score"' not in page and 'name="v1-score"' in page
    again = client.post(
        f"/cases/{case_id}/visits/2/rate",
        data={"v2-csrf_token": token, "v2-score": "5"},
        follow_redirects=True,
    )
    assert "每次只能评价一次" in again.get_data(as_text=True)
    assert (
        client.post(
            f"/cases/{case_id}/visits/9/rate", data={"v9-csrf_token": token, "v9-score": "5"}
        ).status_code
        == 404
    )
    stranger = client.application.test_client()
    login(stranger, "13800000001")
    assert (
        stranger.post(
            f"/cases/{case_id}/visits/1/rate",
            data={"v1-csrf_token": csrf_token(stranger, "/cases"), "v1-score": "5"},
        ).status_code
        == 404
    )


def test_each_notice_has_an_html_summary_next_to_its_pdf(client, query):
    case_id, req_id = correction_of_the_photo(client, query)
    number = query(
        lambda: db.session.scalar(
            select(Notice.number).where(
                Notice.application_id == case_id, Notice.kind == "correction"
            )
        )
    )
    notice_id = query(lambda: db.session.scalar(select(Notice.id).where(Notice.number == number)))
    citizen = client.application.test_client()
    login(citizen, "13800000002")
    html = citizen.get(f"/cases/{case_id}").get_data(as_text=True)
    summary = re.search(
        rf'<div class="notice-summary" id="notice-{notice_id}">(.*?)</div>', html, re.S
    ).group(1)
    assert number in summary and "需要一次补正的内容：证件照数码回执：背景不是白色" in summary
    assert f'data-read-target="#notice-{notice_id}"' in html
    assert f'href="/cases/{case_id}/notices/{notice_id}"' in html
