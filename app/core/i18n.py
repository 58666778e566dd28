"""Interface languages: which one a request speaks, and catalogues compiled from the .po files.

Pages speak the signed-in user's language (their profile setting), else the best match for the
browser's Accept-Language. The JSON API and webhooks always speak English: their codes and
messages are a contract for programs (people get a `message_pl` beside them).
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel import support
from babel.messages.pofile import read_po
from flask import Flask, g, has_app_context, has_request_context, request
from flask_babel import LazyString, force_locale, get_locale, get_translations, gettext, lazy_gettext as _l, refresh
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from app.extensions import babel

log = logging.getLogger(__name__)

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
# The languages Kontor speaks, in their own words (for the profile setting).
LOCALES = {"pl": "Polski", "en": "English"}
DEFAULT_LOCALE = "en"
MACHINE_PATHS = ("/api/", "/webhooks/")

# Codes the pages show as words (states of work, connections, runs and their counts). The code itself
# stays English wherever a program reads it (API, CSS classes, URLs); only the page says it in words.
CODE_LABELS = {
    "pending": _l("pending"), "processing": _l("processing"), "done": _l("done"), "skipped": _l("skipped"),
    "superseded": _l("superseded"), "failed": _l("failed"), "conflict": _l("conflict"),
    "cancelled": _l("cancelled"), "received": _l("received"), "processed": _l("processed"),
    "queued": _l("queued"), "reading": _l("reading"), "importing": _l("importing"), "ok": _l("ok"),
    "error": _l("error"), "unknown": _l("not tested"), "connecting": _l("connecting"),
    "reconnect_needed": _l("reconnect needed"), "push": _l("push"), "pull": _l("pull"), "both": _l("both ways"),
    "states_sync": _l("platform states"), "order_events": _l("order events"), "order_poll": _l("order poll"),
    "order_import": _l("order import"), "autolink": _l("product links"), "orders": _l("orders"),
    "new": _l("new"), "known": _l("known"), "forms": _l("forms"), "new_forms": _l("new forms"),
    "events": _l("events"), "items": _l("items"), "already linked": _l("already linked"),
    "ambiguous": _l("ambiguous"), "linked": _l("linked"), "unmatched": _l("unmatched"), "created": _l("created"),
    "draft": _l("draft"), "posted": _l("posted"), "reversed": _l("reversed"), "open": _l("open"),
    "partially_released": _l("partially released"), "released": _l("released"), "ignored": _l("ignored"),
    # where a change came from (orders.models.CHANGE_SOURCES says the same in title case)
    "manual": _l("by hand"), "automation": _l("automation"), "platform": _l("platform"), "api": "API",
    "import": _l("import"),
}


def code_label(code) -> str:
    """A code in the page's language ('failed' -> 'nieudane'); a code not listed reads as itself, spaced."""
    if code is None:
        return ""
    label = CODE_LABELS.get(str(code))
    return str(label) if label is not None else str(code).replace("_", " ")


def select_locale() -> str:
    """The request's language: the user's choice, else the browser's, else English; the API stays English."""
    if not has_request_context():
        return DEFAULT_LOCALE
    if request.path.startswith(MACHINE_PATHS):
        return DEFAULT_LOCALE
    chosen = getattr(current_user, "locale", None) if current_user else None
    if chosen in LOCALES:
        return chosen
    return _browser_locale(request.headers.get("Accept-Language", ""))


@functools.lru_cache(maxsize=256)
def _browser_locale(accept_language: str) -> str:
    # A browser sends the same header with every request; matching it afresh costs more than the page's labels.
    return parse_accept_header(accept_language, LanguageAccept).best_match(LOCALES, default=DEFAULT_LOCALE)


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


def message_data(message) -> dict | None:
    """A lazy message as {"key": msgid, "args": {...}}, to store beside its English text; None for plain text.

    Arguments that are lazy messages themselves are stored the same way, so the whole sentence can be
    said again later in the reader's language (`render_message`).
    """
    # flask_babel.lazy_gettext(msgid, **args) keeps both on the LazyString; nothing else exposes them.
    if not isinstance(message, LazyString) or message._func is not gettext or len(message._args) != 1:
        return None
    return {"key": message._args[0], "args": {name: _storable(value) for name, value in message._kwargs.items()}}


def _storable(value):
    if isinstance(value, LazyString):
        return message_data(value) or str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def render_message(data: dict, fallback: str = "") -> str:
    """A stored message (see `message_data`) in the current language; `fallback` when it cannot be read."""
    if not isinstance(data, dict) or not isinstance(data.get("key"), str):
        return fallback
    args = {name: render_message(value, str(value)) if isinstance(value, dict) else value
            for name, value in (data.get("args") or {}).items()}
    try:
        return gettext(data["key"], **args)
    except (KeyError, TypeError, ValueError):  # a catalogue entry whose placeholders no longer match
        return fallback or data["key"]


def keep_text(texts: dict | None, field: str, message, clean=str) -> tuple[str, dict | None]:
    """(English text, texts with `field`'s key and arguments) for a stored text shown again later.

    `texts` is a row's JSON column of message keys by field ({"last_error": {"key", "args"}}); a plain
    string drops the field's key, so the row shows the string as stored. `clean` is applied to the
    English text and to every text argument (hiding secrets, cutting length).
    """
    kept = {name: value for name, value in (texts or {}).items() if name != field}
    data = message_data(message)
    if data is None:
        return clean(english(message)), kept or None
    kept[field] = _cleaned(data, clean)
    try:
        text = _said_in_english(data)
    except (KeyError, TypeError, ValueError):
        text = english(message)
    return clean(text), kept


@functools.cache
def _english_catalogue() -> support.Translations:
    return support.Translations.load(str(TRANSLATIONS), [DEFAULT_LOCALE])


def _said_in_english(data: dict) -> str:
    """A stored message in English straight from the catalogue: batches store thousands, and Flask-Babel's
    gettext (context lookups, a locale switch) costs ~70 µs a message."""
    args = {name: _said_in_english(value) if isinstance(value, dict) else value
            for name, value in (data.get("args") or {}).items()}
    text = _english_catalogue().ugettext(data["key"])
    return text % args if args else text


def _cleaned(data: dict, clean) -> dict:
    args = {name: _cleaned(value, clean) if isinstance(value, dict) else clean(value) if isinstance(value, str)
            else value for name, value in data.get("args", {}).items()}
    return {"key": data["key"], "args": args}


def shown_text(texts: dict | None, field: str, stored: str) -> str:
    """A stored text in the reader's language when its key was kept (`keep_text`), else as stored."""
    data = (texts or {}).get(field) if isinstance(texts, dict) else None
    return render_message(data, stored) if data and stored else stored


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
    app.jinja_env.filters["state"] = code_label


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
        if not variables and "%" not in text:
            # What `% {}` would give, without its cost: a page has dozens of plain labels.
            return Markup(text) if context.eval_ctx.autoescape else text
        return (Markup(text) if context.eval_ctx.autoescape else text) % variables

    @pass_context
    def ngettext(context, singular, plural, num, **variables):
        variables.setdefault("num", num)
        text = catalogue.ungettext(singular, plural, num)
        return (Markup(text) if context.eval_ctx.autoescape else text) % variables

    return {"kontor_catalogue": catalogue, "gettext": gettext, "ngettext": ngettext}
