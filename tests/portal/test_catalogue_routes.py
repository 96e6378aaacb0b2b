"""The public catalogue through the test client: home, list, search, guides, bundles, PDFs."""

import io
import re
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    Bundle,
    ItemVersion,
    MaterialRequirement,
    ServiceItem,
    Theme,
    VersionStatus,
)
from services import catalogue
from tests.catalogue_factory import publish_item
from tests.conftest import csrf_token, login
from tests.helpers import pdf_pages, pdf_text

JZZ = "330100GA0001"  # 居住证申领
ITEM_LINK = re.compile(r'href="/items/([0-9A-Za-z]+)"')


def html(response) -> str:
    return response.get_data(as_text=True)


def listed_codes(response) -> list[str]:
    """The item codes linked from the page's result list, in order."""
    body = html(response)
    start = body.find('class="item-list"')
    return ITEM_LINK.findall(body[start:]) if start >= 0 else []


def published_codes(query, *where) -> list[str]:
    return query(
        lambda: db.session.scalars(
            select(ServiceItem.code)
            .join(ItemVersion, ItemVersion.id == ServiceItem.published_version_id)
            .where(*where)
        ).all()
    )


# --- home ------------------------------------------------------------------------------------


def test_home_has_search_popular_themes_departments_and_bundles(client):
    body = html(client.get("/"))
    assert 'action="/search"' in body and 'name="q"' in body and 'type="search"' in body
    assert '<label for="q">搜索办事事项</label>' in body
    assert body.index("热门服务") < body.index("居住证申领")  # the most used item is listed
    for theme in ("生育收养", "户籍办理", "退休养老", "开办企业", "经营许可"):
        assert theme in body
    assert "个人办事" in body and "法人办事" in body
    assert 'href="/catalogue?department=GA"' in body and "市公安局" in body
    for bundle in ("出生一件事", "退休一件事", "开办企业一件事"):
        assert bundle in body
    assert "材料只交一次" in body and "最多跑一次" in body  # the earlier content is still there
    assert body.count("<h1") == 1


def test_pages_of_an_empty_catalogue(database_factory):
    empty = database_factory("empty-catalogue").test_client()
    home = empty.get("/")
    assert (
        home.status_code == 200 and "热门服务" not in html(home) and "您要办什么事？" in html(home)
    )
    assert "共 0 个事项" in html(empty.get("/catalogue"))
    assert "没有找到" in html(empty.get("/search?q=居住证"))
    assert empty.get(f"/items/{JZZ}").status_code == 404
    assert empty.get("/bundles/B001").status_code == 404


def test_nav_links_to_the_catalogue(client):
    assert 'href="/catalogue"' in html(client.get("/"))
    assert 'href="/catalogue" aria-current="page"' in html(client.get("/catalogue"))


# --- catalogue list --------------------------------------------------------------------------


def test_catalogue_first_page_lists_the_most_used_items(client, query):
    response = client.get("/catalogue")
    assert response.status_code == 200
    codes = listed_codes(response)
    total = len(published_codes(query))
    assert len(codes) == min(20, total) and codes[0] == JZZ
    assert f"共 {total} 个事项" in html(response)


def test_pages_cover_every_item_once(client, query):
    total = published_codes(query)
    pages = -(-len(total) // 20)
    seen = []
    for n in range(1, pages + 1):
        seen += listed_codes(client.get(f"/catalogue?page={n}"))
    assert sorted(seen) == sorted(total)
    last = client.get("/catalogue?page=9999")  # beyond the end: the last page
    assert last.status_code == 200 and listed_codes(last) == listed_codes(
        client.get(f"/catalogue?page={pages}")
    )
    assert 'rel="next"' in html(client.get("/catalogue?page=1"))


@pytest.mark.parametrize("page", ["abc", "0", "-1", "1.5", "99999999999", "%01", "１e3", "²", "１"])
def test_a_bad_page_number_is_a_bad_request(client, page):
    assert client.get(f"/catalogue?page={page}").status_code == 400
    assert client.get(f"/search?q=jzz&page={page}").status_code == 400


@pytest.mark.parametrize(
    "args, where",
    [
        ("visits=0", [ItemVersion.visits == 0]),
        ("full_online=y", [ItemVersion.online_depth == 4]),
        ("instant=y", [ItemVersion.case_type == "instant"]),
        ("audience=organisation", [ItemVersion.audience == "organisation"]),
        ("department=JJ", [ItemVersion.department.has(code="JJ")]),
        (
            "visits=0&instant=y&audience=person",
            [
                ItemVersion.visits == 0,
                ItemVersion.case_type == "instant",
                ItemVersion.audience == "person",
            ],
        ),
    ],
)
def test_filters(client, query, args, where):
    query(lambda: (publish_item("要跑两次的事项", visits=2, online_depth=3), db.session.commit()))
    expected = published_codes(query, *where)
    assert 0 < len(expected) < len(published_codes(query))
    assert sorted(every_listed(client, f"/catalogue?{args}")) == sorted(expected)


def every_listed(client, path: str) -> list[str]:
    """The codes listed on every page of a list."""
    seen: list[str] = []
    last: list[str] | None = None
    for n in range(1, 100):
        response = client.get(f"{path}&page={n}")
        assert response.status_code == 200
        codes = listed_codes(response)
        if codes == last:
            return seen  # a page beyond the end repeats the last one
        seen += codes
        last = codes
    raise AssertionError("too many pages")


def test_at_most_one_visit_filter(client, query):
    query(lambda: (publish_item("要跑两次的事项", visits=2), db.session.commit()))
    expected = published_codes(query, ItemVersion.visits <= 1)
    seen = every_listed(client, "/catalogue?visits=1")
    assert sorted(seen) == sorted(expected) and len(expected) < len(published_codes(query))


def test_theme_filter_and_the_filters_stay_on_the_page_links(client, query):
    theme_id = query(lambda: db.session.scalar(select(Theme.id).where(Theme.name == "生育收养")))
    response = client.get(f"/catalogue?theme={theme_id}&visits=0")
    body = html(response)
    expected = query(
        lambda: sorted(
            v.item.code
            for v in db.session.scalars(
                select(ItemVersion).where(
                    ItemVersion.status == VersionStatus.published, ItemVersion.visits == 0
                )
            )
            if theme_id in [t.id for t in v.themes]
        )
    )
    assert sorted(listed_codes(response)) == expected
    assert f'<option selected value="{theme_id}">生育收养</option>' in body


@pytest.mark.parametrize(
    "args",
    [
        "theme=abc",
        "theme=999999",
        "department=<script>alert(1)</script>",
        "audience=martian",
        "visits=9",
        "theme=1%01",  # (NUL bytes are removed before any view: tests/portal/test_pages.py)
        "department=" + "X" * 5000,
    ],
)
def test_bad_filter_values_are_refused_next_to_the_field_and_ignored(client, query, args):
    response = client.get(f"/catalogue?{args}")
    body = html(response)
    assert response.status_code == 400
    assert "没有这个选项" in body and 'aria-invalid="true"' in body
    assert "<script>alert" not in body
    assert len(listed_codes(response)) == 20  # the list is shown as if unfiltered


# --- search ----------------------------------------------------------------------------------


def test_search_by_initials_lists_the_item(client):
    response = client.get("/search?q=jzz")
    assert response.status_code == 200
    assert listed_codes(response)[0] == JZZ
    body = html(response)
    assert "“jzz”的搜索结果" in body and 'value="jzz"' in body


def test_search_by_synonym_shows_the_bundle(client):
    body = html(client.get("/search?q=生孩子"))
    assert 'href="/bundles/B001"' in body and "出生一件事" in body


def test_search_finds_nothing_offers_the_hotline_and_the_counter(client, app):
    response = client.get("/search?q=根本不存在的事项")
    body = html(response)
    assert response.status_code == 200
    assert "没有找到" in body
    assert f'href="tel:{app.config["SERVICE_HOTLINE"]}"' in body
    assert app.config["SERVICE_HALL_ADDRESS"] in body and app.config["SERVICE_HALL_HOURS"] in body
    assert listed_codes(response)[0] == JZZ  # suggestions: what people usually do


def test_empty_search_shows_the_search_page(client):
    for path in ("/search", "/search?q=", "/search?q=%20%20", "/search?q=%00%01"):
        response = client.get(path)
        assert response.status_code == 200
        assert "没有找到" not in html(response) and "<h1>搜索办事事项</h1>" in html(response)


@pytest.mark.parametrize(
    "q",
    [
        "居住证" * 400,
        "a" * 1000,
        "%00居住证%1F申领",
        "<script>alert(1)</script>",
        "%25%25",
        "%5C",
        "'; DROP TABLE service_items; --",
        "\u202e\u200b",
    ],
)
def test_odd_queries_are_answered_without_errors(client, query, q):
    response = client.get(f"/search?q={q}")
    assert response.status_code == 200
    body = html(response)
    assert "<script>alert" not in body
    assert len(query(lambda: published_codes(query))) > 0  # nothing was dropped


def test_a_huge_query_is_shown_back_cut(client):
    body = html(client.get("/search?q=" + "字" * 1000))
    match = re.search(r'name="q" type="search" value="(字+)"', body)
    assert match and len(match.group(1)) == 100


# --- guide -----------------------------------------------------------------------------------


def test_guide_shows_every_section_in_plain_chinese(client):
    response = client.get(f"/items/{JZZ}")
    body = html(response)
    assert response.status_code == 200
    assert "<h1>居住证申领</h1>" in body and body.count("<h1") == 1
    for section in (
        "基本信息",
        "办理条件",
        "申请材料",
        "办理流程",
        "时限与跑动",
        "收费",
        "地点与咨询",
        "常见问题",
    ):
        assert f">{section}</h2>" in body, section
    assert "行政确认" in body and "自然日" in body and "在线办理" in body and "承诺件" in body
    assert 'class="trips-number">最多跑一次' in body
    assert "首次申领需本人到派出所采集指纹" in body  # why the visit is needed
    for material in ("居民身份证", "学校在读证明", "授权委托书"):
        assert f'<h3 class="material-name">{material}</h3>' in body
    for label in (
        "必要",
        "信息免交",
        "原件",
        "份数",
        "适用情形",
        "您申领居住证的依据是？“在本市上学”",
    ):
        assert label in body
    assert f'href="/apply/{JZZ}"' in body
    assert f'href="/items/{JZZ}/guide.pdf"' in body and f'href="/items/{JZZ}/checklist.pdf"' in body
    assert "<!--" not in body  # every slot was filled


def test_guide_and_filters_say_each_term_in_one_word(client):
    """服务对象 is 自然人 / 法人 and a step's role 综合窗口人员 / 审批人员 everywhere (the guide
    page once said 个人 and 综合窗口 where the admin said 自然人 and 窗口受理人员)."""
    body = html(client.get(f"/items/{JZZ}"))
    assert "<dt>服务对象</dt><dd>自然人</dd>" in body
    assert "</strong>：综合窗口人员" in body and "</strong>：审批人员" in body
    filters = html(client.get("/catalogue"))
    assert ">自然人</option>" in filters and 'label="自然人"' in filters
    assert ">个人</option>" not in filters and 'label="个人"' not in filters


def test_guide_of_an_item_with_fees_and_zero_visits(client):
    body = html(client.get("/items/330100JJ0001"))
    assert (
        "机动车驾驶证工本费" in body
        and "10元/证" in body
        and '<th scope="col">收费标准</th>' in body
    )
    assert 'class="trips-number">跑零次' in body and "即办件" in body


@pytest.mark.parametrize("code", ["NOPE", "330100GA9999", "x" * 300, "%3Cscript%3E"])
def test_unknown_items_are_404(client, code):
    for suffix in ("", "/guide.pdf", "/checklist.pdf"):
        assert client.get(f"/items/{code}{suffix}").status_code == 404


def test_an_item_without_a_published_version_is_404(client, query):
    def draft_only() -> str:
        code = publish_item("只有草稿的事项", publish=False).code
        db.session.commit()
        return code

    code = query(draft_only)
    for suffix in ("", "/guide.pdf", "/checklist.pdf"):
        assert client.get(f"/items/{code}{suffix}").status_code == 404
    assert "没有找到" in html(client.get("/search?q=只有草稿的事项"))


def test_a_citizen_sees_which_materials_are_on_file(client):
    login(client, "13800000001")  # has a verified 居民身份证 and 户口簿
    body = html(client.get(f"/items/{JZZ}"))
    assert "我的材料" in body
    assert body.count('class="on-file-mark"') == 1
    identity = body.index('<h3 class="material-name">居民身份证</h3>')
    assert body.index('class="on-file-mark"') > identity
    assert body.index('class="on-file-mark"') < body.index(
        '<h3 class="material-name">证件照数码回执</h3>'
    )


def test_a_citizen_with_nothing_on_file_and_staff_see_no_marks(client):
    login(client, "13800000002")
    body = html(client.get(f"/items/{JZZ}"))
    assert "我的材料" in body and 'class="on-file-mark"' not in body
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/profile")})
    login(client, "counter01")
    body = html(client.get(f"/items/{JZZ}"))
    assert "我的材料" not in body and 'class="on-file-mark"' not in body


def test_a_visitor_is_invited_to_log_in(client):
    body = html(client.get(f"/items/{JZZ}"))
    assert f'href="/auth/login?next=/items/{JZZ}"' in body and 'class="on-file-mark"' not in body


def test_guide_names_the_bundles_the_item_is_in(client):
    body = html(client.get("/items/330100GA0003"))  # 出生登记
    assert 'href="/bundles/B001"' in body


def test_a_new_published_version_is_shown_at_once_despite_the_cache(client, query):
    assert "居住证申领" in html(client.get(f"/items/{JZZ}"))  # now cached

    def publish_version_two():
        item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == JZZ))
        old = item.published_version
        fields = {f: getattr(old, f) for f in catalogue.GUIDE_FIELDS}
        themes = list(old.themes)
        requirements = [
            MaterialRequirement(**{f: getattr(r, f) for f in catalogue.REQUIREMENT_FIELDS})
            for r in old.requirements
        ]
        new = ItemVersion(item_id=item.id, number=old.number + 1, **fields)
        new.name = "居住证申领（第二版）"
        db.session.add(new)
        new.themes = themes
        new.requirements = requirements
        db.session.flush()
        catalogue.publish_version(new, None)
        db.session.commit()

    query(publish_version_two)
    body = html(client.get(f"/items/{JZZ}"))
    assert "<h1>居住证申领（第二版）</h1>" in body


def test_the_cache_keeps_languages_apart(client):
    assert "行政确认" in html(client.get(f"/items/{JZZ}"))
    client.post(
        "/preferences/language", data={"csrf_token": csrf_token(client, "/"), "locale": "en"}
    )
    body = html(client.get(f"/items/{JZZ}"))
    assert "Administrative confirmation" in body and "行政确认" not in body


def test_an_unpublished_bundle_is_404(client, query):
    def hide():
        db.session.scalar(select(Bundle).where(Bundle.code == "B002")).published = False
        db.session.commit()

    query(hide)
    assert client.get("/bundles/B002").status_code == 404
    assert "退休一件事" not in html(client.get("/"))


# --- bundle ----------------------------------------------------------------------------------


def test_bundle_page_merges_the_guides(client, query):
    response = client.get("/bundles/B001")
    body = html(response)
    assert response.status_code == 200
    assert "<h1>出生一件事</h1>" in body and body.count("<h1") == 1
    codes = query(
        lambda: [
            e.item.code
            for e in db.session.scalar(select(Bundle).where(Bundle.code == "B001")).entries
        ]
    )
    for code in codes:
        assert f'href="/items/{code}"' in body
    names = re.findall(r'<h3 class="material-name">([^<]+)</h3>', body)
    assert len(names) == len(set(names)) and "出生医学证明" in names
    assert 'class="trips-number">最多跑一次' in body  # the maximum (1), not the sum
    assert "需要它的事项" in body and "申请材料（合并去重）" in body


@pytest.mark.parametrize("code", ["NOPE", "b001", "B" * 300])
def test_unknown_bundles_are_404(client, code):
    assert client.get(f"/bundles/{code}").status_code == 404


# --- PDFs ------------------------------------------------------------------------------------


def test_guide_pdf_in_chinese(client):
    response = client.get(f"/items/{JZZ}/guide.pdf")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert f'filename="guide-{JZZ}.pdf"' in response.headers["Content-Disposition"]
    reader = PdfReader(io.BytesIO(response.data))
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root and root["/MarkInfo"]["/Marked"]  # tagged (PDF/UA-1)
    assert root["/Lang"] == "zh-CN" and reader.metadata.title == "居住证申领办事指南"
    text = pdf_text(response.data)
    for expected in (
        "居住证申领",
        "办事指南",
        "居民身份证",
        "授权委托书",
        "0571-87280000",
        "申请材料",
        "办理流程",
        "常见问题",
        "最多跑一次",
    ):
        assert expected in text, expected


def test_checklist_pdf_is_one_page_with_the_materials_and_the_phones(client, app):
    for code in (JZZ, "330100MZ0002", "330100BD0001", "330100GJ0001"):  # 6–7 materials each
        response = client.get(f"/items/{code}/checklist.pdf")
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
        assert len(pdf_pages(response.data)) == 1, code
        flat = pdf_text(response.data)
        assert "一次性告知单" in flat and app.config["SERVICE_HOTLINE"] in flat
    flat = pdf_text(client.get(f"/items/{JZZ}/checklist.pdf").data)
    for expected in (
        "居住证申领",
        "居民身份证",
        "授权委托书",
        "0571-87280000",
        "不用带",
        "居住登记凭证",
    ):
        assert expected in flat, expected


def test_a_guide_pdf_is_made_once_then_served_from_storage(app, client, query):
    """Issue 13 #8: WeasyPrint runs once per distinct document; later requests read the stored
    file; anything that changes the document (here the department's name) makes a new one."""
    folder = Path(app.config["UPLOAD_DIR"]) / "rendered"
    first = client.get(f"/items/{JZZ}/guide.pdf")
    stored = [p for p in folder.glob("guide-*.pdf") if p.read_bytes() == first.data]
    assert len(stored) == 1
    original = stored[0].read_bytes()
    stored[0].write_bytes(original + b"%stored-copy")  # what is served is the stored file
    try:
        assert client.get(f"/items/{JZZ}/guide.pdf").data == original + b"%stored-copy"
    finally:
        stored[0].write_bytes(original)

    def rename():
        version = db.session.scalar(
            select(ItemVersion)
            .join(ServiceItem, ServiceItem.published_version_id == ItemVersion.id)
            .where(ServiceItem.code == JZZ)
        )
        version.department.name = "杭州市公安局出入境与户政管理处"
        db.session.commit()

    query(rename)
    renamed = client.get(f"/items/{JZZ}/guide.pdf")
    assert renamed.data != original and "出入境与户政管理处" in pdf_text(renamed.data)
    assert len([p for p in folder.glob("guide-*.pdf") if p.read_bytes() == renamed.data]) == 1
