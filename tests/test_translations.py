"""Every message in the templates and the code is in both catalogues, translated and not fuzzy."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from jinja2 import nodes

from app.core.i18n import LOCALES, TRANSLATIONS, compile_catalogues

ROOT = Path(__file__).resolve().parent.parent


def _extracted(tmp_path: Path):
    pot = tmp_path / "messages.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-k", "_l",
                                "-k", "lazy_gettext", "--no-location", "-o", str(pot), str(ROOT)])
    with pot.open("rb") as handle:
        return read_po(handle)


def _catalogue(locale: str):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def test_every_message_is_in_both_catalogues_translated_and_not_fuzzy(tmp_path):
    template = _extracted(tmp_path)
    wanted = [m.id for m in template if m.id]
    assert len(wanted) > 100, "pybabel found hardly any messages: is babel.cfg still right?"
    problems = []
    for locale in LOCALES:
        catalogue = _catalogue(locale)
        for msgid in wanted:
            key = msgid[0] if isinstance(msgid, tuple) else msgid
            message = catalogue.get(key)
            if message is None:
                problems.append(f"{locale}: missing {key!r}")
            elif message.fuzzy:
                problems.append(f"{locale}: fuzzy {key!r}")
            elif locale != "en" and not all(message.string if isinstance(message.string, tuple)
                                            else (message.string,)):
                problems.append(f"{locale}: not translated {key!r}")
    assert not problems, (f"{len(problems)} catalogue problems (run `make translations`, then translate):\n"
                          + "\n".join(problems[:60]))


def test_catalogues_compile_and_polish_formats_money_the_polish_way(app):
    compile_catalogues()
    for locale in LOCALES:
        assert (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo").exists()
    from app.core.web import format_money
    assert format_money("1060.99", "PLN", locale="pl") == "1\u00a0060,99\u00a0zł"
    assert format_money("1060.99", "PLN", locale="en") == "1\u202f060.99 PLN"


# --- templates show no English outside _() / {% trans %} ----------------------------------------------

TEMPLATES = ROOT / "templates"
# Attributes a person reads (or hears from a screen reader).
READ_ATTRIBUTES = {"placeholder", "title", "aria-label", "alt", "hx-confirm", "data-confirm", "label"}
WORD = re.compile(r"[A-Za-zÀ-ž]{2,}")
# Words the same in Polish and English: the product's name, units, and codes sellers use as they are.
SAME_IN_EVERY_LANGUAGE = {"Kontor", "SKU", "EAN", "UTC", "WZ", "PZ", "API", "URL", "ID", "HTMX", "SVG", "PLN",
                          "JSON", "CSV", "XML", "PDF", "HTML", "SMTP", "OAuth", "Allegro", "PrestaShop", "Shopify",
                          "WooCommerce", "Slack", "Telegram", "RQ", "Redis", "NIP", "VAT", "px", "nbsp",
                          # carriers' brand names
                          "STARTTLS", "AA", "InPost", "DPD", "DHL", "UPS", "GLS", "Poczta", "Polska", "FedEx", "Orlen", "Paczka"}
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
COMMENT = re.compile(r"\{#.*?#\}", re.S)
TRANS_BLOCK = re.compile(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}", re.S)
# Blocks that fill an attribute, not the page ({% block body_class %}container wide{% endblock %}).
CLASS_BLOCK = re.compile(r"\{%-?\s*block\s+\w*class\w*\s*-?%\}.*?\{%-?\s*endblock\b.*?%\}", re.S)
# Calls whose string arguments are translated or are not text (URLs).
TRANSLATING = {"_", "gettext", "ngettext", "pgettext", "npgettext", "_l", "lazy_gettext", "url_for"}


def _english_words(text: str) -> list[str]:
    return [w for w in WORD.findall(text) if w not in SAME_IN_EVERY_LANGUAGE]


class _VisibleText(HTMLParser):
    """Collects page text and read attributes left after every Jinja construct is taken out."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._raw = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._raw += 1
        for name, value in attrs:
            shown = name in READ_ATTRIBUTES or (name == "value" and ("type", "submit") in attrs)
            if shown and value and _english_words(value):
                self.found.append(f"{name}={value!r}")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._raw = max(0, self._raw - 1)

    def handle_data(self, data):
        if not self._raw and _english_words(data):
            self.found.append(data.strip())


def _untranslated_markup(source: str) -> list[str]:
    source = CLASS_BLOCK.sub(" ", TRANS_BLOCK.sub(" ", COMMENT.sub(" ", source)))
    parser = _VisibleText()
    parser.feed(JINJA.sub(" ", source))
    parser.close()
    return parser.found


def _untranslated_literals(tree) -> list[str]:
    """String constants a template prints without _(): sentences and capitalised words.

    One lowercase word is taken for a code or a CSS class ('active', 'ok'); such words are shown
    through a translated label map, so the check does not guess at them.
    """
    found = []

    def visit(node, shown=True):
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name in TRANSLATING:
            return
        if isinstance(node, (nodes.Compare, nodes.Test, nodes.Include, nodes.Extends, nodes.FromImport,
                             nodes.Import)):
            return
        if isinstance(node, nodes.Getitem):
            visit(node.node)
            return
        if isinstance(node, nodes.Pair):
            visit(node.value)
            return
        if isinstance(node, nodes.Const) and isinstance(node.value, str):
            value = node.value
            if _english_words(value) and (re.search(r"\s", value.strip()) or re.search(r"[A-Z]", value)):
                found.append(repr(value))
            return
        for child in node.iter_child_nodes():
            visit(child)

    visit(tree)
    return found


def test_templates_show_no_english_outside_translations(app):
    problems = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        found = _untranslated_markup(source) + _untranslated_literals(app.jinja_env.parse(source))
        problems += [f"{path.relative_to(ROOT)}: {text}" for text in found]
    assert not problems, (f"{len(problems)} untranslated texts in templates (wrap them in _()):\n"
                          + "\n".join(problems[:200]))


def test_flash_messages_and_form_labels_are_wrapped_for_translation():
    """A flash() or a form field's label given as a plain string (or an f-string) would stay English."""
    import ast

    fields = {"StringField", "IntegerField", "BooleanField", "SelectField", "TextAreaField", "DecimalField",
              "PasswordField", "EmailField", "FileField", "URLField", "SelectMultipleField", "FloatField",
              "RadioField"}
    problems = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            first = node.args[0]
            plain = isinstance(first, ast.JoinedStr) or (isinstance(first, ast.Constant) and isinstance(first.value, str)
                                                         and re.search(r"[A-Za-z]{2,}", first.value))
            if plain and (name == "flash" or name in fields):
                problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}({ast.unparse(first)[:60]})")
    assert not problems, "unwrapped texts:\n" + "\n".join(problems)
