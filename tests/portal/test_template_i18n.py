"""Templates compiled per language (portal/template_i18n.py): a fixed text ``_('…')`` is
translated when the template is compiled, and the page reads exactly as when every call was
translated while rendering, in both languages."""

from __future__ import annotations

import pytest
from flask import render_template_string
from flask_babel import force_locale

from portal.template_i18n import FixedTextTranslation, PortalEnvironment
from tests.conftest import login

# every form a call takes in the templates: alone, in attributes, concatenated with text that
# must be escaped, formatted, as a filter's input, kept in a variable, inside a condition; "Q&A"
# and "Today's …" are translations with characters HTML escapes
SOURCE = """\
<p title="{{ _('我的办件') }}">{{ _('问答') }}|{{ _('今日预约') }}</p>
{{ _('退出') ~ '<b>' }}|{{ _('退出') + '<i>' }}|{{ _('（%(n)d 条未读）', n=3) }}
{{ _('长辈模式') if flag else _('菜单') }}|{{ _('菜单')|upper }}|{{ _('菜单')|length }}
{% set t = {'a': _('事项'), 'b': _('状态')} %}{{ t.a }}/{{ t.b }}|{% set x = _('首页') %}{{ x }}
{{ _('未翻译的文字 <b>') }}|{{ _("双引号") }}|{{ _('百分之百%%') }}
"""


def render_both(source: str, locale: str, **context) -> tuple[str, str]:
    """(rendered by the app's environment as before, rendered through the language overlay)."""
    from flask import current_app

    env = current_app.jinja_env
    with force_locale(locale):
        overlay = env.language_overlay()
        plain = env.from_string(source).render(**context)  # from_string: no overlay
        compiled = overlay.from_string(source).render(**context)
    return plain, compiled


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_fixed_texts_read_as_when_translated_while_rendering(app, locale):
    with app.test_request_context("/"):
        for flag in (True, False):
            plain, compiled = render_both(SOURCE, locale, flag=flag)
            assert compiled == plain
    if locale == "en":
        assert "Q&A" in compiled and "Today's appointments" in compiled
        assert "Log out&lt;b&gt;" in compiled  # the text after it is escaped as before


def test_fixed_texts_are_no_calls_in_the_compiled_template(app):
    """The point of it: no translation lookup at run time for a fixed text; a text with
    arguments is still looked up."""
    with app.test_request_context("/"), force_locale("en"):
        overlay = app.jinja_env.language_overlay()
        code = overlay.compile("{{ _('我的办件') }}", raw=True)
        assert "My cases" in code and "'_'" not in code and "gettext" not in code
        code = overlay.compile("{{ _('（%(n)d 条未读）', n=n) }}", raw=True)
        assert "'_'" in code


def test_a_page_in_each_language_from_one_process(client):
    """One compiled copy per language: a reader switching language, and readers of both
    languages in turn, each get their own."""
    login(client, "13800000001")
    assert "我的办件" in client.get("/cases").get_data(as_text=True)
    with client.session_transaction() as session:
        session["locale"] = "en"
    english = client.get("/cases").get_data(as_text=True)
    assert "My cases" in english and "我的办件" not in english.split("<main", 1)[1]
    with client.session_transaction() as session:
        session["locale"] = "zh_CN"
    assert "我的办件" in client.get("/cases").get_data(as_text=True)


def test_force_locale_inside_a_request_compiles_in_that_language(app):
    with app.test_request_context("/"):
        with force_locale("en"):
            english = render_template_string("{% extends 'base.html' %}")
        with force_locale("zh_CN"):
            chinese = render_template_string("{% extends 'base.html' %}")
        assert "Skip to main content" in english and "跳到主要内容" not in english
        assert "跳到主要内容" in chinese and "Skip to main content" not in chinese


def test_outside_a_request_templates_compile_as_before(app):
    with app.app_context():
        env = app.jinja_env
        assert isinstance(env, PortalEnvironment) and env.compile_locale is None
        assert FixedTextTranslation not in {type(e) for e in env.extensions.values()}


def test_labels_follow_the_locale_the_request_has_now(app):
    """RequestDomain remembers the catalogue of the request's locale, not of the first one
    asked: force_locale and a refresh after a change of language still count."""
    from flask import session
    from flask_babel import lazy_gettext, refresh

    label = lazy_gettext("我的办件")
    with app.test_request_context("/"):
        session["locale"] = "en"
        assert str(label) == "My cases"
        with force_locale("zh_CN"):
            assert str(label) == "我的办件"
        assert str(label) == "My cases"
        session["locale"] = "zh_CN"
        refresh()
        assert str(label) == "我的办件"


def test_label_dictionaries_are_made_per_language(app):
    """labels_in_locale: a list takes its labels once; each language has its own, and an
    unknown code reads as itself (as case_states.state_label)."""
    from portal.template_i18n import labels_in_locale
    from services.case_states import STATE_LABELS, state_label

    with app.test_request_context("/"):
        with force_locale("en"):
            english = labels_in_locale(STATE_LABELS)
            assert english["submitted"] == state_label("submitted") != "submitted"
            assert english["no_such_state"] == "no_such_state"
        with force_locale("zh_CN"):
            chinese = labels_in_locale(STATE_LABELS)
            assert chinese["submitted"] == state_label("submitted")
        assert chinese is not english and chinese["submitted"] != english["submitted"]
