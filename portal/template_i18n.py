"""Templates compiled once per language, with their fixed texts already translated.

A page holds hundreds of ``{{ _('…') }}`` calls (a table of 50 cases repeats its column labels
in every row), and each call through Flask-Babel looks up the request's locale and catalogue
again: on 我的办件 they were a third of the page's time. A fixed text, ``_('事项')`` with a
plain string and nothing else, is the same for every reader of one language, so each language
gets its own compiled copy of a template (an overlay of the app's Jinja environment: the same
loader, globals and filters, its own cache) in which such calls are replaced, when the
template is compiled, by their translation marked safe: exactly what the call returned at run
time (Jinja's newstyle gettext: the translation as Markup, ``% {}`` applied). Calls with
arguments (``_('%(n)d 条', n=…)``) stay calls and are translated at run time.

The language is the request's (``flask_babel.get_locale()``, so ``force_locale`` is honoured);
outside a request the app's own environment compiles templates as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flask import Flask, templating
from flask_babel import Babel, Domain, _get_current_context, get_locale, get_translations
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from markupsafe import Markup


class FixedTextTranslation(Extension):
    """Rewrites ``_('text')`` into the translated constant ``'…'|safe`` (autoescaped
    templates) or ``'…'`` (others), for the catalogue of the environment's language."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        translations = getattr(self.environment, "compile_translations", None)
        if translations is None:
            yield from stream
            return
        autoescape = self.environment.autoescape
        if callable(autoescape):
            autoescape = autoescape(stream.name)
        tokens = list(stream)
        i = 0
        while i < len(tokens):
            token = tokens[i]
            window = tokens[i : i + 4]
            if (
                token.type == "name"
                and token.value == "_"
                and len(window) == 4
                and window[1].type == "lparen"
                and window[2].type == "string"
                and window[3].type == "rparen"
                and (i == 0 or tokens[i - 1].type != "dot")
            ):
                text = translate_fixed(translations, window[2].value, autoescape)
                if text is not None:
                    yield Token(token.lineno, "string", text)
                    if autoescape:
                        yield Token(token.lineno, "pipe", "|")
                        yield Token(token.lineno, "name", "safe")
                    i += 4
                    continue
            yield token
            i += 1


def translate_fixed(translations: Any, msgid: str, autoescape: bool) -> str | None:
    """What ``_(msgid)`` renders in this language, or None to leave the call to run time."""
    text = translations.ugettext(msgid)
    # the project's own catalogue, marked safe exactly as Jinja's newstyle gettext marks it at
    # run time (templates hold no user input here: only fixed msgids are rewritten)
    try:  # Jinja's newstyle gettext always formats: "%%" becomes "%"
        return str((Markup(text) if autoescape else text) % {})  # nosec B704
    except (KeyError, TypeError, ValueError):
        return None


class PortalEnvironment(templating.Environment):
    """The app's Jinja environment; inside a request, templates are loaded from the overlay of
    the request's language (created on first use; it shares globals and filters)."""

    compile_locale: str | None = None  # set on the language overlays

    def _load_template(self, name: str, globals: Any) -> Any:
        if self.compile_locale is None:
            overlay = self.language_overlay()
            if overlay is not None:
                return overlay._load_template(name, globals)
        return super()._load_template(name, globals)

    def language_overlay(self) -> PortalEnvironment | None:
        locale = get_locale()  # None outside an app context
        if locale is None:
            return None
        overlays: dict[str, PortalEnvironment] = self.__dict__.setdefault("_overlays", {})
        key = str(locale)
        overlay = overlays.get(key)
        if overlay is None:
            # its own template cache; no shared bytecode cache (it is keyed by the source alone)
            overlay = self.overlay(extensions=[FixedTextTranslation], bytecode_cache=None)
            overlay.compile_locale = key
            overlay.compile_translations = get_translations()
            overlays[key] = overlay
        return overlay


class RequestDomain(Domain):
    """Flask-Babel's message domain, remembering the catalogue for the request's locale: each
    look-up that remains (lazy labels, texts with arguments, flashes) asked for the locale
    again and rebuilt its name as the cache key (6 µs of a 7 µs label)."""

    def get_translations(self) -> Any:
        ctx = _get_current_context()
        if ctx is None:
            return super().get_translations()
        locale = getattr(ctx, "babel_locale", None)  # None until the locale is first asked
        remembered = getattr(ctx, "portal_translations", None)
        if locale is not None and remembered is not None and remembered[0] is locale:
            return remembered[1]
        translations = super().get_translations()  # asks the locale (force_locale's wins)
        ctx.portal_translations = (ctx.babel_locale, translations)
        return translations


def install_request_domain(app: Flask, babel: Babel) -> None:
    """After ``babel.init_app(app)``: the default domain remembers the request's catalogue."""
    babel.domain_instance = RequestDomain(domain=app.extensions["babel"].default_domain)


class Labels(dict):
    """Translated labels; an unknown key reads as itself (as ``case_states.state_label``)."""

    def __missing__(self, key: object) -> str:
        return "" if key is None else str(key)


_translated: dict[tuple[int, str], tuple[Mapping, Labels]] = {}


def labels_in_locale(mapping: Mapping) -> Labels:
    """A module's constant mapping of lazy labels as text in the request's language, made once
    per process and language: a list page takes it once instead of translating per row."""
    key = (id(mapping), str(get_locale()))
    made = _translated.get(key)
    if made is None:  # the mapping is kept with its labels, so its id is never reused
        made = _translated[key] = (mapping, Labels({k: str(v) for k, v in mapping.items()}))
    return made[1]
