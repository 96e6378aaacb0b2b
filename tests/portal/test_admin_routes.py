"""The admin pages through the test client: every form, with good and bad input."""

import io
import re

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Bundle,
    Department,
    ItemVersion,
    MaterialType,
    Role,
    ServiceHall,
    ServiceItem,
    User,
    VersionStatus,
)
from services import storage
from tests.admin_data import JPEG, PDF, PNG
from tests.conftest import csrf_token, login
from tests.helpers import count

SCRIPT = "<script>alert('x')</script>"


def error_for(html: str, field_id: str) -> str:
    match = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">(.*?)</p>', html, re.S)
    return match.group(1) if match else ""


@pytest.fixture
def admin(client):
    assert login(client, "admin").status_code == 302
    return client


@pytest.fixture
def one_admin_publishing(app, monkeypatch):
    """A small county's setting: the admin who submits a version may publish it too (these
    tests are about the version flow; tests/portal/test_four_eyes.py keeps the rule on)."""
    monkeypatch.setitem(app.config, "PUBLISH_FOUR_EYES", False)


def post(client, path, data, token_from=None, **kwargs):
    data = {"csrf_token": csrf_token(client, token_from or path), **data}
    return client.post(path, data=data, **kwargs)


def fetch(client, path):
    """GET a file and close the response (send_file keeps the file open until then)."""
    response = client.get(path)
    try:
        return response.status_code, response.get_data(), response.mimetype, dict(response.headers)
    finally:
        response.close()


def ids(query, version_id):
    return query(lambda: db.session.get(ItemVersion, version_id).lock_version)


def guide_data(query, version_id, **overrides):
    def load():
        v = db.session.get(ItemVersion, version_id)
        return v.lock_version, v.department_id

    lock, dept_id = query(load)
    data = {
        "lock": str(lock),
        "name": "路由测试事项",
        "item_type": "public_service",
        "audience": "person",
        "themes": [],
        "department_id": str(dept_id),
        "legal_basis": "《测试条例》第一条",
        "conditions": "本市户籍",
        "legal_limit": "20",
        "legal_limit_unit": "working",
        "promised_limit": "5",
        "promised_limit_unit": "working",
        "case_type": "promised",
        "steps-0-name": "受理",
        "steps-0-role": "counter",
        "steps-0-limit": "1",
        "steps-1-name": "",
        "steps-1-role": "counter",
        "steps-1-limit": "",
        "visits": "0",
        "visits_reason": "",
        "online_depth": "4",
        "location": "市民中心 1 楼",
        "hours": "工作日 9:00-17:00",
        "phone": "0571-12345678",
        "complaint_phone": "12345",
        "fees-0-name": "",
        "fees-0-standard": "",
        "fees-0-basis": "",
        "result_name": "测试结果",
        "result_type": "other",
        "result_licence_type_code": "",
        "faqs-0-q": "要多久？",
        "faqs-0-a": "5 个工作日。",
        "keywords": "路由测试\n测试、考试",
        "synonyms": "试一试",
        "commitment_text": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def create_item(client, code="ROUTE0000001", name="路由测试事项"):
    response = post(
        client,
        "/admin/items/new",
        {
            "code": code,
            "name": name,
            "department_id": "1",
            "item_type": "public_service",
            "audience": "person",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(re.search(r"/admin/versions/(\d+)/edit", response.headers["Location"]).group(1))


def save_guide(client, query, version_id, **overrides):
    path = f"/admin/versions/{version_id}/edit"
    return post(client, path, guide_data(query, version_id, **overrides))


def add_requirement(client, query, version_id, type_id, **overrides):
    path = f"/admin/versions/{version_id}/requirements"
    data = {
        "lock": str(ids(query, version_id)),
        "material_type_id": str(type_id),
        "original": "1",
        "form": "paper",
        "copies": "1",
        "necessity": "required",
        "condition": "",
        "notes": "",
        "acceptance_standard": "",
    }
    data.update(overrides)
    return post(client, path, data)


def complete_draft(client, query, code="ROUTE0000001"):
    version_id = create_item(client, code)
    assert save_guide(client, query, version_id).status_code == 302
    assert add_requirement(client, query, version_id, 1).status_code == 302
    return version_id


def version_action(client, query, version_id, action):
    return post(
        client,
        f"/admin/versions/{version_id}/{action}",
        {"lock": str(ids(query, version_id))},
        token_from=f"/admin/versions/{version_id}",
    )


# ---------------------------------------------------------------------------- access


def test_the_nav_offers_the_admin_area_only_to_admins(client):
    login(client, "13800000001")
    assert 'href="/admin/"' not in client.get("/").get_data(as_text=True)
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/profile")})
    login(client, "admin")
    html = client.get("/").get_data(as_text=True)
    assert 'href="/admin/"' in html and "管理后台" in html


@pytest.mark.parametrize("account", ["13800000001", "counter01", "reviewer01"])
def test_non_admins_posting_to_admin_urls_get_403_and_write_nothing(client, query, account):
    login(client, account)
    token = csrf_token(client, "/profile")
    before = query(lambda: count(Department))
    for path, data in (
        ("/admin/departments/new", {"code": "HACK", "name": "黑客部门"}),
        ("/admin/departments/1/delete", {}),
        ("/admin/items/1/archive", {}),
        ("/admin/versions/1/copy", {}),
    ):
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    assert query(lambda: count(Department)) == before
    assert (
        query(
            lambda: db.session.scalar(
                select(ServiceItem.published_version_id).where(ServiceItem.id == 1)
            )
        )
        is not None
    )


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/admin/items")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


# ---------------------------------------------------------------------------- departments


def test_department_create_edit_deactivate_delete(admin, query):
    response = post(
        admin,
        "/admin/departments/new",
        {
            "code": "ts1",
            "name": "测试局",
            "phone": "0571-1234",
            "address": "人民路 1 号",
            "hours": "工作日",
        },
    )
    assert response.status_code == 302
    dept_id = query(
        lambda: db.session.scalar(select(Department.id).where(Department.code == "TS1"))
    )
    response = post(
        admin,
        f"/admin/departments/{dept_id}/edit",
        {"name": "测试局（改）", "phone": "", "address": "", "hours": ""},
    )
    assert response.status_code == 302
    assert query(lambda: db.session.get(Department, dept_id).name) == "测试局（改）"
    post(
        admin,
        f"/admin/departments/{dept_id}/active",
        {"active": "0"},
        token_from="/admin/departments",
    )
    assert query(lambda: db.session.get(Department, dept_id).active) is False
    assert "已停用" in admin.get("/admin/departments").get_data(as_text=True)
    post(
        admin,
        f"/admin/departments/{dept_id}/active",
        {"active": "1"},
        token_from="/admin/departments",
    )
    assert query(lambda: db.session.get(Department, dept_id).active) is True
    post(admin, f"/admin/departments/{dept_id}/delete", {}, token_from="/admin/departments")
    assert query(lambda: db.session.get(Department, dept_id)) is None


def test_deleting_a_department_with_published_items_is_refused(admin, query):
    response = post(admin, "/admin/departments/1/delete", {}, token_from="/admin/departments")
    assert response.status_code == 302
    html = admin.get("/admin/departments").get_data(as_text=True)
    assert "已发布的事项，不能删除" in html
    assert query(lambda: db.session.get(Department, 1)) is not None


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("code", "GA", "部门编码已存在"),
        ("code", "含中文", "1 至 16 位字母或数字"),
        ("code", "", "请填写部门编码"),
        ("name", "长" * 1000, "最多 100 个字"),
        ("name", "", "请填写部门名称"),
        ("phone", "<b>tel</b>", "只能包含数字"),
    ],
)
def test_department_bad_input(admin, query, field, value, message):
    before = query(lambda: count(Department))
    data = {"code": "TS2", "name": "测试局", "phone": "", "address": "", "hours": "", field: value}
    response = post(admin, "/admin/departments/new", data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in error_for(html, field)
    assert 'id="error-summary"' in html
    assert query(lambda: count(Department)) == before


def test_admin_text_is_escaped_on_output(admin, query):
    post(
        admin,
        "/admin/departments/new",
        {"code": "XSS", "name": SCRIPT, "phone": "", "address": SCRIPT, "hours": ""},
    )
    html = admin.get("/admin/departments").get_data(as_text=True)
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


# ---------------------------------------------------------------------------- material types


def material_data(**overrides):
    data = {
        "code": "T800",
        "name": "测试材料",
        "category": "其他",
        "description": "",
        "source": "self",
        "licence_type_code": "",
        "validity_kind": "none",
        "validity_months": "",
    }
    data.update(overrides)
    return data


def test_material_type_with_files_download_and_replace(admin, query, app):
    data = material_data(
        blank_form=(io.BytesIO(PNG), "blank.png"), example=(io.BytesIO(JPEG), "eg.jpeg")
    )
    response = post(admin, "/admin/materials/new", data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    mt = query(lambda: db.session.scalar(select(MaterialType).where(MaterialType.code == "T800")))
    status, data, mimetype, headers = fetch(admin, f"/downloads/material-types/{mt.id}/blank_form")
    assert (status, mimetype) == (200, "image/png") and data.startswith(
        b"\x89PNG"
    )  # re-encoded on upload
    assert headers["Content-Disposition"].startswith("attachment;")
    assert fetch(admin, f"/downloads/material-types/{mt.id}/example")[2] == "image/jpeg"
    assert fetch(admin, f"/downloads/material-types/{mt.id}/secret")[0] == 404

    response = post(
        admin,
        f"/admin/materials/{mt.id}/edit",
        material_data(blank_form=(io.BytesIO(PDF), "blank.pdf")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    new = query(lambda: db.session.get(MaterialType, mt.id))
    assert new.blank_form_key != mt.blank_form_key and new.example_key == mt.example_key
    assert not storage.path_for(app.config["UPLOAD_DIR"], mt.blank_form_key).exists()
    assert fetch(admin, f"/downloads/material-types/{mt.id}/blank_form")[1] == PDF
    # anyone can download the public forms
    logout = csrf_token(admin, "/profile")
    admin.post("/auth/logout", data={"csrf_token": logout})
    assert fetch(admin, f"/downloads/material-types/{mt.id}/blank_form")[0] == 200


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        (
            {"blank_form": (io.BytesIO(b"MZ\x90\x00 not a pdf"), "form.pdf")},
            "blank_form",
            "只能上传 PDF、JPG 或 PNG 文件",
        ),
        (
            {"example": (io.BytesIO(b"<svg onload=alert(1)>"), "eg.png")},
            "example",
            "只能上传 PDF、JPG 或 PNG 文件",
        ),
        ({"source": "issued"}, "licence_type_code", "须填写电子证照类型代码"),
        ({"validity_kind": "months"}, "validity_months", "请填写有效月数"),
        ({"validity_kind": "months", "validity_months": "-3"}, "validity_months", "1 至 120"),
        ({"validity_months": "abc"}, "validity_months", "请填写整数"),
        ({"name": "长" * 1000}, "name", "最多 100 个字"),
        ({"code": "M001"}, "code", "材料编码已存在"),
    ],
)
def test_material_type_bad_input(admin, query, app, overrides, field, message):
    before = query(lambda: count(MaterialType))
    files_before = sorted(
        p.name
        for p in __import__("pathlib").Path(app.config["UPLOAD_DIR"]).rglob("*")
        if p.is_file()
    )
    response = post(
        admin,
        "/admin/materials/new",
        material_data(**overrides),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert message in error_for(response.get_data(as_text=True), field)
    assert query(lambda: count(MaterialType)) == before
    files_after = sorted(
        p.name
        for p in __import__("pathlib").Path(app.config["UPLOAD_DIR"]).rglob("*")
        if p.is_file()
    )
    assert files_after == files_before


def test_material_list_search_and_pages(admin):
    html = admin.get("/admin/materials?q=身份证").get_data(as_text=True)
    assert "居民身份证" in html and "户口簿" not in html
    page2 = admin.get("/admin/materials?page=2").get_data(as_text=True)
    assert "第 2 页" in page2
    assert admin.get("/admin/materials?page=abc").status_code == 200
    assert admin.get("/admin/materials?q=" + "%" * 1000).status_code == 200


# ---------------------------------------------------------------------------- items and drafts


@pytest.mark.parametrize(
    "code,message",
    [
        ("330100GA0004", "事项编码已存在"),
        ("ABC", "12 位字母或数字"),
        ("ABCDEFGHIJK!", "12 位字母或数字"),
        ("", "请填写事项编码"),
    ],
)
def test_item_create_refuses_bad_codes(admin, query, code, message):
    before = query(lambda: count(ServiceItem))
    response = post(
        admin,
        "/admin/items/new",
        {
            "code": code,
            "name": "事项",
            "department_id": "1",
            "item_type": "public_service",
            "audience": "person",
        },
    )
    assert response.status_code == 422
    assert message in error_for(response.get_data(as_text=True), "code")
    assert query(lambda: count(ServiceItem)) == before


def test_item_create_refuses_a_long_name_and_a_bad_department(admin, query):
    response = post(
        admin,
        "/admin/items/new",
        {
            "code": "ROUTE0000009",
            "name": "长" * 1000,
            "department_id": "99999",
            "item_type": "public_service",
            "audience": "person",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "最多 200 个字" in error_for(html, "name")
    assert "请从列表中选择" in error_for(html, "department_id")


def test_items_list_finds_by_name_or_code(admin):
    html = admin.get("/admin/items?q=居住证").get_data(as_text=True)
    assert "居住证" in html and "结婚登记" not in html
    assert "330100GA0004" in admin.get("/admin/items?q=330100ga0004").get_data(as_text=True)
    assert "没有找到符合条件的事项" in admin.get("/admin/items?q=不存在的事项名").get_data(
        as_text=True
    )


def test_guide_editor_adds_rows_without_saving(admin, query):
    version_id = create_item(admin)
    html = admin.get(f"/admin/versions/{version_id}/edit").get_data(as_text=True)
    assert 'id="steps-1-name"' in html and 'id="steps-2-name"' not in html
    lock = ids(query, version_id)
    response = post(
        admin,
        f"/admin/versions/{version_id}/edit",
        guide_data(query, version_id, add_steps="增加办理环节行", name="未保存"),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="steps-4-name"' in html and 'value="未保存"' in html
    assert query(lambda: db.session.get(ItemVersion, version_id).name) == "路由测试事项"
    assert ids(query, version_id) == lock


def test_guide_editor_saves_every_field(admin, query):
    version_id = create_item(admin)
    response = save_guide(
        admin,
        query,
        version_id,
        themes=["1", "3"],
        kiosk_enabled="y",
        **{
            "fees-0-name": "工本费",
            "fees-0-standard": "20 元",
            "fees-0-basis": "规定",
            "steps-1-name": "审核",
            "steps-1-role": "reviewer",
            "steps-1-limit": "3",
            "result_licence_type_code": "11100000000000099",
            "visits": "1",
            "visits_reason": "本人到场核验",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    v = query(lambda: db.session.get(ItemVersion, version_id))
    assert v.steps == [
        {"name": "受理", "role": "counter", "limit": 1},
        {"name": "审核", "role": "reviewer", "limit": 3},
    ]
    assert v.fees == [{"name": "工本费", "standard": "20 元", "basis": "规定"}]
    assert v.faqs == [{"q": "要多久？", "a": "5 个工作日。"}]
    assert v.keywords == ["路由测试", "测试", "考试"] and v.synonyms == ["试一试"]
    assert v.kiosk_enabled and v.visits == 1 and v.result_licence_type_code == "11100000000000099"
    assert query(lambda: sorted(t.id for t in db.session.get(ItemVersion, version_id).themes)) == [
        1,
        3,
    ]
    # a row marked for removal goes
    save_guide(admin, query, version_id, **{"steps-1-name": "审核", "steps-1-remove": "y"})
    assert len(query(lambda: db.session.get(ItemVersion, version_id).steps)) == 1


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"promised_limit": "30", "legal_limit": "20"}, "promised_limit", "不能超过法定办结时限"),
        ({"legal_limit": "-5"}, "legal_limit", "0 至 3650"),
        ({"visits": "-1"}, "visits", "0 至 10"),
        ({"visits": ""}, "visits", "请填写到办事现场次数"),
        ({"name": "长" * 1000}, "name", "最多 200 个字"),
        ({"name": ""}, "name", "请填写事项名称"),
        ({"legal_limit": "十"}, "legal_limit", "请填写整数"),
        ({"steps-1-limit": "2"}, "steps-1-name", "请填写环节名称"),
        ({"steps-0-limit": "-1"}, "steps-0-limit", "0 至 3650"),
        ({"steps-0-role": "boss"}, "steps-0-role", "请从列表中选择"),
        ({"themes": ["99999"]}, "themes", "请从列表中选择"),
        ({"department_id": "99999"}, "department_id", "请从列表中选择"),
        ({"phone": "tel:<x>"}, "phone", "只能包含数字"),
    ],
)
def test_guide_bad_input_is_refused_next_to_the_field(admin, query, overrides, field, message):
    version_id = create_item(admin)
    before = query(
        lambda: (
            db.session.get(ItemVersion, version_id).name,
            db.session.get(ItemVersion, version_id).lock_version,
        )
    )
    response = save_guide(admin, query, version_id, **overrides)
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html[:2000]
    assert message in error_for(html, field), html[html.find("error-summary") :][:1500]
    assert f'href="#{field}"' in html  # the summary links to it
    assert (
        query(
            lambda: (
                db.session.get(ItemVersion, version_id).name,
                db.session.get(ItemVersion, version_id).lock_version,
            )
        )
        == before
    )


def test_a_row_error_is_placed_on_its_own_row_after_blank_rows(admin, query):
    version_id = create_item(admin)
    data = guide_data(
        query,
        version_id,
        **{
            "steps-0-name": "",
            "steps-0-limit": "",  # blank row first
            "steps-1-name": "",
            "steps-1-limit": "2",  # a row with a limit but no name
        },
    )
    html = post(admin, f"/admin/versions/{version_id}/edit", data).get_data(as_text=True)
    assert "请填写环节名称" in error_for(html, "steps-1-name")
    assert "办理流程第 2 行的环节名称" in html


def test_html_in_guide_text_is_escaped(admin, query):
    version_id = create_item(admin)
    assert save_guide(admin, query, version_id, name=SCRIPT, conditions=SCRIPT).status_code == 302
    html = admin.get(f"/admin/versions/{version_id}").get_data(as_text=True)
    assert SCRIPT not in html and "&lt;script&gt;" in html


def test_two_admins_editing_one_draft_do_not_overwrite_each_other(admin, query):
    version_id = create_item(admin)
    stale = guide_data(query, version_id, name="第二位管理员的版本")
    assert save_guide(admin, query, version_id, name="第一位管理员的版本").status_code == 302
    response = post(admin, f"/admin/versions/{version_id}/edit", stale)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "已被其他管理员修改" in html and 'value="第二位管理员的版本"' in html
    assert query(lambda: db.session.get(ItemVersion, version_id).name) == "第一位管理员的版本"


def test_requirements_editor(admin, query):
    version_id = create_item(admin)
    assert admin.get(f"/admin/versions/{version_id}/requirements").status_code == 200
    assert add_requirement(admin, query, version_id, 1).status_code == 302
    assert (
        add_requirement(
            admin,
            query,
            version_id,
            2,
            original="0",
            form="electronic",
            copies="2",
            necessity="deferrable",
            notes="首页和本人页",
            acceptance_standard="信息清晰",
            commitment_allowed="y",
        ).status_code
        == 302
    )

    def reqs():
        v = db.session.get(ItemVersion, version_id)
        return [
            (
                r.id,
                r.material_type_id,
                r.position,
                r.original,
                r.copies,
                r.necessity,
                r.commitment_allowed,
            )
            for r in sorted(v.requirements, key=lambda r: r.position)
        ]

    (first, *_), (second, *rest) = query(reqs)
    assert rest == [2, 1, False, 2, "deferrable", True]
    html = admin.get(f"/admin/versions/{version_id}/requirements").get_data(as_text=True)
    assert "容缺后补" in html and "户口簿" in html
    base = f"/admin/versions/{version_id}/requirements"
    post(
        admin,
        f"{base}/{second}/move",
        {"lock": str(ids(query, version_id)), "offset": "up"},
        token_from=base,
    )
    assert [r[0] for r in query(reqs)] == [second, first]
    response = post(
        admin,
        f"{base}/{second}/edit",
        {
            "lock": str(ids(query, version_id)),
            "material_type_id": "4",
            "original": "1",
            "form": "paper",
            "copies": "3",
            "necessity": "optional",
            "condition": "",
            "notes": "",
            "acceptance_standard": "",
        },
    )
    assert response.status_code == 302
    assert query(reqs)[0][1:5] == (4, 0, True, 3)
    post(admin, f"{base}/{first}/delete", {"lock": str(ids(query, version_id))}, token_from=base)
    assert [r[0] for r in query(reqs)] == [second]


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"material_type_id": "99999"}, "material_type_id", "请从列表中选择"),
        ({"copies": "0"}, "copies", "1 至 99"),
        ({"copies": ""}, "copies", "请填写份数"),
        ({"necessity": "maybe"}, "necessity", "请从列表中选择"),
        ({"condition": "married=perhaps"}, "condition", "请从列表中选择"),
        ({"notes": "长" * 2001}, "notes", "最多 2000 个字"),
    ],
)
def test_requirement_bad_input(admin, query, overrides, field, message):
    version_id = create_item(admin)
    response = add_requirement(admin, query, version_id, 1, **overrides)
    assert response.status_code == 422
    assert message in error_for(response.get_data(as_text=True), field)
    assert query(lambda: len(db.session.get(ItemVersion, version_id).requirements)) == 0


def form_data(query, version_id, **overrides):
    data = {
        "lock": str(ids(query, version_id)),
        "questions-0-key": "name",
        "questions-0-label": "申请人姓名",
        "questions-0-type": "text",
        "questions-0-required": "y",
        "questions-0-options": "",
        "questions-0-help": "",
        "questions-0-min": "",
        "questions-0-max": "",
        "questions-0-max_length": "50",
        "questions-0-prefill": "name",
        "questions-1-key": "delivery",
        "questions-1-label": "领证方式",
        "questions-1-type": "select",
        "questions-1-options": "post=邮寄\ncounter=窗口领取",
        "questions-1-help": "",
        "questions-1-min": "",
        "questions-1-max": "",
        "questions-1-max_length": "",
        "questions-1-prefill": "",
        "condition_questions-0-key": "married",
        "condition_questions-0-label": "是否已婚？",
        "condition_questions-0-options": "yes=是\nno=否",
    }
    data.update(overrides)
    return data


def test_application_form_editor_and_conditional_materials(admin, query):
    version_id = create_item(admin)
    path = f"/admin/versions/{version_id}/form"
    assert admin.get(path).status_code == 200
    response = post(admin, path, form_data(query, version_id, add_questions="增加问题行"))
    assert response.status_code == 200 and 'id="questions-4-key"' in response.get_data(as_text=True)
    assert post(admin, path, form_data(query, version_id)).status_code == 302
    v = query(lambda: db.session.get(ItemVersion, version_id))
    assert v.questions[0] == {
        "key": "name",
        "label": "申请人姓名",
        "type": "text",
        "required": True,
        "prefill": "name",
        "help": "",
        "max_length": 50,
    }
    assert v.questions[1]["options"] == [["post", "邮寄"], ["counter", "窗口领取"]]
    assert v.condition_questions == [
        {"key": "married", "label": "是否已婚？", "options": [["yes", "是"], ["no", "否"]]}
    ]
    html = admin.get(f"/admin/versions/{version_id}/requirements").get_data(as_text=True)
    assert "是否已婚？：是" in html
    assert add_requirement(admin, query, version_id, 3, condition="married=yes").status_code == 302
    assert query(lambda: db.session.get(ItemVersion, version_id).requirements[0].condition) == {
        "question": "married",
        "equals": "yes",
    }
    # the condition is in use: removing it is refused
    response = post(
        admin, path, form_data(query, version_id, **{"condition_questions-0-remove": "y"})
    )
    assert response.status_code == 422
    assert "请先修改该材料" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"questions-0-key": "Name!"}, "questions-0-key", "小写字母"),
        ({"questions-1-key": "name"}, "questions-1-key", "重复"),
        ({"questions-1-options": ""}, "questions-1-options", "至少要有一个选项"),
        (
            {"questions-0-min": "10", "questions-0-max": "1"},
            "questions-0-max",
            "最大值不能小于最小值",
        ),
        ({"questions-0-label": ""}, "questions-0-label", "请填写问题"),
        ({"questions-0-type": "file"}, "questions-0-type", "请从列表中选择"),
        (
            {"condition_questions-0-options": ""},
            "condition_questions-0-options",
            "至少要有一个选项",
        ),
    ],
)
def test_application_form_bad_input(admin, query, overrides, field, message):
    version_id = create_item(admin)
    response = post(
        admin, f"/admin/versions/{version_id}/form", form_data(query, version_id, **overrides)
    )
    assert response.status_code == 422
    assert message in error_for(response.get_data(as_text=True), field)
    assert query(lambda: db.session.get(ItemVersion, version_id).questions) == []


def test_submit_refuses_an_incomplete_draft_naming_the_fields(admin, query):
    version_id = create_item(admin)
    response = version_action(admin, query, version_id, "submit")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for label in ("设定依据", "受理条件", "办理地点", "咨询电话", "法定办结时限", "办理环节"):
        assert label in html[html.find("error-summary") : html.find("actions-title")], label
    assert 'href="#f-legal_basis"' in html and 'id="f-legal_basis"' in html
    assert query(lambda: db.session.get(ItemVersion, version_id).status) == VersionStatus.draft


def test_publish_then_edit_into_version_two_and_compare(admin, query, one_admin_publishing):
    v1 = complete_draft(admin, query)
    assert version_action(admin, query, v1, "submit").status_code == 302
    assert version_action(admin, query, v1, "publish").status_code == 302
    assert query(lambda: db.session.get(ItemVersion, v1).status) == VersionStatus.published
    # the published version cannot be edited in place
    assert admin.get(f"/admin/versions/{v1}/edit").status_code == 409
    assert save_guide(admin, query, v1, name="偷偷改").status_code == 409
    assert query(lambda: db.session.get(ItemVersion, v1).name) == "路由测试事项"

    response = post(admin, f"/admin/versions/{v1}/copy", {}, token_from=f"/admin/versions/{v1}")
    v2 = int(re.search(r"/admin/versions/(\d+)/edit", response.headers["Location"]).group(1))
    assert (
        save_guide(admin, query, v2, name="路由测试事项（新）", promised_limit="3").status_code
        == 302
    )
    assert version_action(admin, query, v2, "submit").status_code == 302
    assert version_action(admin, query, v2, "publish").status_code == 302
    assert query(lambda: db.session.get(ItemVersion, v1).status) == VersionStatus.archived
    item_id = query(lambda: db.session.get(ItemVersion, v2).item_id)
    html = admin.get(f"/admin/items/{item_id}/diff?a={v1}&b={v2}").get_data(as_text=True)
    assert "路由测试事项（新）" in html and "承诺办结时限" in html and "设定依据" not in html
    html = admin.get(f"/admin/items/{item_id}").get_data(as_text=True)
    assert "已归档" in html and "已发布" in html


def test_diff_refuses_versions_of_another_item(admin, query):
    v1 = create_item(admin)
    item_id = query(lambda: db.session.get(ItemVersion, v1).item_id)
    response = admin.get(f"/admin/items/{item_id}/diff?a={v1}&b=1")
    assert response.status_code == 422
    response = admin.get(f"/admin/items/{item_id}/diff?a=x&b=y")
    assert response.status_code == 422


def test_return_to_draft_and_discard_through_the_pages(admin, query, one_admin_publishing):
    v1 = complete_draft(admin, query)
    version_action(admin, query, v1, "submit")
    assert admin.get(f"/admin/versions/{v1}/edit").status_code == 409
    assert version_action(admin, query, v1, "return").status_code == 302
    assert admin.get(f"/admin/versions/{v1}/edit").status_code == 200
    version_action(admin, query, v1, "submit")
    version_action(admin, query, v1, "publish")
    response = post(admin, f"/admin/versions/{v1}/copy", {}, token_from=f"/admin/versions/{v1}")
    v2 = int(re.search(r"/admin/versions/(\d+)/edit", response.headers["Location"]).group(1))
    # a second copy while a draft is open is refused
    response = post(admin, f"/admin/versions/{v1}/copy", {}, token_from=f"/admin/versions/{v1}")
    assert "已有一个未发布的版本" in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert version_action(admin, query, v2, "discard").status_code == 302
    assert query(lambda: db.session.get(ItemVersion, v2)) is None


def test_archiving_withdraws_a_published_item(admin, query):
    response = post(admin, "/admin/items/1/archive", {}, token_from="/admin/items/1")
    assert response.status_code == 302
    assert query(lambda: db.session.get(ServiceItem, 1).published_version_id) is None
    assert query(lambda: db.session.get(ItemVersion, 1).status) == VersionStatus.archived


# ---------------------------------------------------------------------------- bundles


def bundle_data(**overrides):
    data = {
        "code": "B800",
        "name": "测试一件事",
        "description": "说明",
        "theme_id": "1",
        "items": "330100GA0004\n330100MZ0001",
    }
    data.update(overrides)
    return data


def test_bundle_create_edit_publish(admin, query):
    assert post(admin, "/admin/bundles/new", bundle_data()).status_code == 302
    bundle = query(lambda: db.session.scalar(select(Bundle).where(Bundle.code == "B800")))
    assert bundle.published is False
    response = post(
        admin,
        f"/admin/bundles/{bundle.id}/edit",
        bundle_data(
            name="改名一件事", theme_id="0", items="330100GA0004, 330100GA0001、330100MZ0001"
        ),
    )
    assert response.status_code == 302
    codes = query(lambda: [e.item.code for e in db.session.get(Bundle, bundle.id).entries])
    assert codes == ["330100GA0004", "330100GA0001", "330100MZ0001"]
    post(
        admin,
        f"/admin/bundles/{bundle.id}/published",
        {"published": "1"},
        token_from="/admin/bundles",
    )
    assert query(lambda: db.session.get(Bundle, bundle.id).published) is True
    post(
        admin,
        f"/admin/bundles/{bundle.id}/published",
        {"published": "0"},
        token_from="/admin/bundles",
    )
    assert query(lambda: db.session.get(Bundle, bundle.id).published) is False


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"items": "330100GA0004"}, "items", "至少包含两个不同的事项"),
        ({"items": "330100GA0004\n330100GA0004"}, "items", "至少包含两个不同的事项"),
        ({"items": "330100GA0004\nNOSUCH000000"}, "items", "NOSUCH000000"),
        ({"code": "B001"}, "code", "一件事编码已存在"),
        ({"name": "长" * 1000}, "name", "最多 100 个字"),
        ({"theme_id": "99999"}, "theme_id", "请从列表中选择"),
    ],
)
def test_bundle_bad_input(admin, query, overrides, field, message):
    before = query(lambda: count(Bundle))
    response = post(admin, "/admin/bundles/new", bundle_data(**overrides))
    assert response.status_code == 422
    assert message in error_for(response.get_data(as_text=True), field)
    assert query(lambda: count(Bundle)) == before


def test_a_draft_is_not_published_without_review(admin, query):
    v1 = complete_draft(admin, query)
    response = version_action(admin, query, v1, "publish")
    assert response.status_code == 409
    assert "请先提交审核" in response.get_data(as_text=True)
    assert query(lambda: db.session.get(ItemVersion, v1).status) == VersionStatus.draft


def test_every_figure_on_the_admin_home_is_read_back(admin, query):
    """Each number shown is the count in the database (it once printed a Python repr)."""
    html = admin.get("/admin/").get_data(as_text=True)
    shown = dict(
        (label, int(n))
        for n, label in re.findall(r'<span class="stat">(\d+)</span>\s*(\S+?)</a>', html)
    )
    hints = dict(
        (label, int(n))
        for label, n in re.findall(r'<p class="hint">(已发布|待审核) (\d+) 个', html)
    )

    def expected():
        def count(stmt):
            return db.session.scalar(stmt)

        def versions(status):
            return count(
                select(func.count()).select_from(ItemVersion).where(ItemVersion.status == status)
            )

        return {
            "个部门": count(select(func.count()).select_from(Department)),
            "种材料": count(select(func.count()).select_from(MaterialType)),
            "个事项": count(select(func.count()).select_from(ServiceItem)),
            "个草稿": versions(VersionStatus.draft),
            "个一件事": count(select(func.count()).select_from(Bundle)),
            "个服务大厅": count(
                select(func.count()).select_from(ServiceHall).where(ServiceHall.active.is_(True))
            ),
            "名工作人员": count(
                select(func.count())
                .select_from(User)
                .where(User.role != Role.citizen, User.active.is_(True))
            ),
        }, {
            "已发布": count(
                select(func.count())
                .select_from(ServiceItem)
                .where(ServiceItem.published_version_id.is_not(None))
            ),
            "待审核": versions(VersionStatus.in_review),
        }

    figures, hint_figures = query(expected)
    assert shown == figures
    assert hints == hint_figures
    assert "built-in method" not in html and "object at 0x" not in html
