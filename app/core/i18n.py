"""Interface languages: which one a request speaks, and catalogues compiled from the .po files.

Pages speak the signed-in user's language (their profile setting), else the best match for the
browser's Accept-Language. The JSON API and webhooks always speak English: their codes and
messages are a contract for programs (people get a `message_pl` beside them).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, has_app_context, has_request_context, request
from flask_babel import LazyString, force_locale, get_locale, get_translations, gettext, refresh
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup

from app.extensions import babel

log = logging.getLogger(__name__)

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
# The languages Kontor speaks, in their own words (for the profile setting).
LOCALES = {"pl": "Polski", "en": "English"}
DEFAULT_LOCALE = "en"
MACHINE_PATHS = ("/api/", "/webhooks/")


def select_locale() -> str:
    """The request's language: the user's choice, else the browser's, else English; the API stays English."""
    if not has_request_context():
        return DEFAULT_LOCALE
    if request.path.startswith(MACHINE_PATHS):
        return DEFAULT_LOCALE
    chosen = getattr(current_user, "locale", None) if current_user else None
    if chosen in LOCALES:
        return chosen
    return request.accept_languages.best_match(LOCALES, default=DEFAULT_LOCALE)


def _language() -> tuple:
    """(locale, its code, its translations) for the language spoken right now, looked up once per language.

    Flask-Babel walks the request context three times and spells the locale's name afresh on every
    message; a list page asks for a hundred messages and formatted values. The locale object is the
    key, so force_locale() and refresh() (which put a new one in place) are followed at once.
    """
    locale = get_locale()
    known = g.get("kontor_language")
    if known is None or known[0] is not locale:
        known = (locale, str(locale or DEFAULT_LOCALE), get_translations())
        g.kontor_language = known
    return known


def current_locale() -> str:
    """The language code the current request speaks ('pl', 'en')."""
    return _language()[1] if has_request_context() else DEFAULT_LOCALE


def translations():
    """The catalogue of the language spoken right now (Flask-Babel's, without its per-call lookups)."""
    return _language()[2] if has_app_context() else get_translations()


def english(message) -> str:
    """A message as the API states it: always English, whatever the request's language."""
    with force_locale(DEFAULT_LOCALE):
        return str(message)


def in_polish(message) -> str:
    """The Polish text of a message for people (a lazy string, or a catalogued English sentence)."""
    with force_locale("pl"):
        return str(message) if isinstance(message, LazyString) else gettext(str(message))


def api_error(code: str, message) -> dict:
    """The API's error body: a stable English code and message, and the message in Polish for people."""
    return {"code": code, "message": english(message), "message_pl": in_polish(message)}


def compile_catalogues(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every messages.po that has no .mo or a newer one; returns the files written.

    Runs at app start so a fresh clone needs no build step; the .mo is written aside and moved
    into place, so processes starting at once never read half a file.
    """
    written = []
    for po_path in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalogue = read_po(po_file, locale=po_path.parent.parent.name)
        handle, temporary = tempfile.mkstemp(dir=mo_path.parent, suffix=".mo.tmp")
        try:
            with os.fdopen(handle, "wb") as mo_file:
                write_mo(mo_file, catalogue, use_fuzzy=False)
            os.replace(temporary, mo_path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        written.append(mo_path)
    return written


def init_app(app: Flask) -> None:
    """Compile the catalogues if needed and let Flask-Babel pick each request's language."""
    try:
        compile_catalogues()
    except OSError as error:  # a read-only install: the .mo files must then be built at packaging time
        log.warning("could not compile the translation catalogues: %s", error)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=str(TRANSLATIONS))
    app.jinja_env.globals["current_locale"] = current_locale
    # Flask-Babel's template callables look the catalogue up on every call; these look it up once per language.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.context_processor(_messages_for_render)
    # The language is remembered on `g`; a request that shares an app context with an earlier one (tests,
    # a CLI driving the test client) must choose afresh, before anything else of the request runs.
    app.before_request_funcs.setdefault(None, []).insert(0, refresh)
    # For names stored in English defaults (status names): the catalogue's word if it has one, else as typed.
    app.jinja_env.filters["tr"] = _translate_name


@pass_context
def _translate_name(context, text):
    """A name stored in English (a status name): the catalogue's word if it has one, else as typed."""
    catalogue = context.get("kontor_catalogue") or translations()
    return catalogue.ugettext(text) if text else text


def _messages_for_render() -> dict:
    """gettext and ngettext for one render, bound to the request's catalogue once (not looked up per message).

    They behave as Jinja's new-style callables: the text is escaped like any value and always formatted
    with its variables. Macros imported without context fall back to the environment's callables.
    """
    catalogue = translations()

    @pass_context
    def gettext(context, string, **variables):
        text = catalogue.ugettext(string)
        return (Markup(text) if context.eval_ctx.autoescape else text) % variables

    @pass_context
    def ngettext(context, singular, plural, num, **variables):
        variables.setdefault("num", num)
        text = catalogue.ungettext(singular, plural, num)
        return (Markup(text) if context.eval_ctx.autoescape else text) % variables

    return {"kontor_catalogue": catalogue, "gettext": gettext, "ngettext": ngettext}
