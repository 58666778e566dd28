"""Every message in the templates and the code is in both catalogues, translated and not fuzzy."""

from __future__ import annotations

from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

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
