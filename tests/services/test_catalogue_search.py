"""Search of the published catalogue: Chinese, codes, synonyms, pinyin, ranking and bad input."""

import pytest

from services.catalogue_query import (
    MAX_QUERY_CHARS,
    clean_query,
    display_query,
    name_rank,
    search_catalogue,
)
from tests.catalogue_factory import publish_item

JZZ = "330100GA0001"  # 居住证申领
DRIVING = "330100JJ0001"  # 机动车驾驶证期满换证
BIRTH_REGISTRATION = "330100GA0003"  # 出生登记（新生儿入户）


def codes(results) -> list[str]:
    return [item.code for item in results.items]


def test_chinese_name_finds_the_item_first(app_ctx):
    results = search_catalogue("居住证申领")
    assert codes(results)[0] == JZZ
    assert results.items[0].name == "居住证申领"


@pytest.mark.parametrize("query", ["330100GA0001", "330100ga0001", "GA0001"])
def test_item_code_whole_or_part_in_any_case(app_ctx, query):
    assert codes(search_catalogue(query))[0] == JZZ


def test_keyword_finds_the_item(app_ctx):
    assert DRIVING in codes(search_catalogue("驾驶证换证"))


def test_synonym_finds_the_item(app_ctx):
    assert codes(search_catalogue("换驾照")) == [DRIVING]


def test_synonym_finds_the_bundle_that_contains_the_item(app_ctx):
    results = search_catalogue("生孩子")
    assert [b.name for b in results.bundles] == ["出生一件事"]
    assert BIRTH_REGISTRATION in codes(results)


@pytest.mark.parametrize("query", ["出生一件事", "chushengyijianshi", "csyjs"])
def test_bundle_by_name_and_its_pinyin(app_ctx, query):
    assert [b.code for b in search_catalogue(query).bundles][:1] == ["B001"]


@pytest.mark.parametrize("query", ["juzhuzheng", "juzhuzhengshenling", "jzz", "jzzsl"])
def test_pinyin_full_and_initials(app_ctx, query):
    assert codes(search_catalogue(query))[0] == JZZ


@pytest.mark.parametrize(
    "query",
    [
        "居住 证 申领",
        " 居住证申领 ",
        "ｊｚｚ",
        "ＪＺＺ",
        "ju zhu zheng",
        "ｊｕ　ｚｈｕ　ｚｈｅｎｇ",
        "３３０１００ＧＡ０００１",
        "居住\u3000证申领",
        "居住\x00证\x1f申领",
    ],
)
def test_spaces_full_width_and_control_characters_are_ignored(app_ctx, query):
    assert codes(search_catalogue(query))[0] == JZZ


def test_ranking_exact_then_prefix_then_contains_then_keywords(app_ctx):
    # popularity is the reverse of the expected order, so only the rank can put them right
    keyword = publish_item("另一个事项", keywords=("测试证明",), popularity=1000)
    contains = publish_item("补办测试证明", popularity=100)
    prefix = publish_item("测试证明补办", popularity=50)
    exact = publish_item("测试证明", popularity=1)
    assert codes(search_catalogue("测试证明")) == [
        exact.code,
        prefix.code,
        contains.code,
        keyword.code,
    ]


def test_more_used_items_first_within_a_rank(app_ctx):
    low = publish_item("甲乙丙事项一", popularity=1)
    high = publish_item("甲乙丙事项二", popularity=9)
    assert codes(search_catalogue("甲乙丙")) == [high.code, low.code]


def test_name_rank():
    assert [name_rank(n, "居住证") for n in ("居住证", "居住证申领", "办理居住证", "暂住证")] == [
        0,
        1,
        2,
        3,
    ]
    assert name_rank("居住 证", "居住证") == 0


def test_unpublished_items_are_not_found(app_ctx):
    publish_item("草稿里的秘密事项", publish=False)
    assert search_catalogue("草稿里的秘密事项").found_nothing


@pytest.mark.parametrize("query", ["%", "_", "%%%", "\\", "居住%申领", "jz_"])
def test_like_wildcards_are_taken_literally(app_ctx, query):
    results = search_catalogue(query)
    assert results.items == [] and results.found_nothing


@pytest.mark.parametrize("query", ["", "   ", "\u3000\t\n", "\x00\x01\x1f", None, "|||"])
def test_empty_queries_search_nothing_and_say_nothing_was_missing(app_ctx, query):
    results = search_catalogue(query)
    assert results.query == "" and results.items == [] and not results.found_nothing


def test_a_huge_query_is_cut_and_answered(app_ctx):
    results = search_catalogue("居住证" * 400)
    assert len(results.query) == MAX_QUERY_CHARS
    assert results.found_nothing


def test_nothing_found(app_ctx):
    results = search_catalogue("根本不存在的事项名称")
    assert results.found_nothing and results.total == 0


def test_pages_partition_the_ranked_results(app_ctx):
    everything = search_catalogue("zheng", per_page=100)
    assert everything.total > 6
    first = search_catalogue("zheng", page=1, per_page=3)
    assert first.pages == -(-everything.total // 3)
    pages = [first] + [
        search_catalogue("zheng", page=n, per_page=3) for n in range(2, first.pages + 1)
    ]
    assert [code for p in pages for code in codes(p)] == codes(everything)
    beyond = search_catalogue("zheng", page=999, per_page=3)
    assert beyond.page == first.pages and codes(beyond) == codes(pages[-1])


def test_clean_and_display_query():
    assert clean_query("  ＡＢ Ｃ\x00|d ") == "abcd"
    assert len(clean_query("x" * 1000)) == MAX_QUERY_CHARS
    assert display_query("  居住\x00证   申领\x1f ") == "居住证 申领"
    assert len(display_query("字" * 1000)) == MAX_QUERY_CHARS
