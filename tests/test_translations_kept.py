"""config.translations: each language's gettext answers kept per message, the same answers."""

from __future__ import annotations

from collections.abc import Iterator
from gettext import GNUTranslations
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.html import escape
from django.utils.safestring import SafeData, mark_safe
from django.utils.translation import gettext, pgettext, trans_real

from config import translations

LOCALE = Path(settings.BASE_DIR) / "locale"
LANGUAGES = [code for code, _name in settings.LANGUAGES]


@pytest.fixture(autouse=True)
def _fresh_translations(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test gets translation objects with nothing kept yet, and leaves none behind."""
    monkeypatch.setattr(trans_real, "_translations", {})
    with translation.override(translation.get_language()):
        yield


def _messages() -> list[str]:
    """Every singular message of the project's compiled catalogues, a sample of Django's (one
    with pgettext's context, as gettext receives it) and one found nowhere."""
    found: set[str] = set()
    for mo in LOCALE.glob("*/LC_MESSAGES/django.mo"):
        with mo.open("rb") as file:
            catalogue = vars(GNUTranslations(file))["_catalog"]
            found.update(key for key in catalogue if isinstance(key, str))
    found.discard("")  # the header
    sample = ["Add", "Save", "This field is required.", "abbrev. month\x04Feb.", "no such text"]
    return sorted(found) + sample


def test_it_is_installed() -> None:
    """Fails if a Django upgrade gives DjangoTranslation its own gettext (then check whether
    this is still worth keeping)."""
    assert trans_real.DjangoTranslation.gettext is translations.kept_gettext


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_gets_the_catalogues_answer_first_and_kept(language: str) -> None:
    messages = _messages()
    assert len(messages) > 500
    found = trans_real.translation(language)
    expected = {message: GNUTranslations.gettext(found, message) for message in messages}

    first = {message: found.gettext(message) for message in messages}
    again = {message: found.gettext(message) for message in messages}

    assert first == expected
    assert again == expected
    assert len(vars(found)[translations._MEMO]) == len(messages)
    # The catalogues really differ between the languages: English translates the project's.
    translated = sum(expected[message] != message for message in messages)
    assert (translated > 500) == (language == "en")


def test_pgettext_and_the_active_language_go_through_it() -> None:
    def answers() -> tuple[str, str]:
        return gettext("Nome"), pgettext("abbrev. month", "Feb.")

    for _ in range(2):
        with translation.override("en"):
            assert answers() == ("Name", "Feb.")
        with translation.override("pt-br"):
            assert answers() == ("Nome", "Fev.")


@pytest.mark.parametrize("safe_first", [True, False])
def test_a_safe_message_never_makes_a_plain_one_safe(safe_first: bool) -> None:
    """A miss answers with the message object itself: a SafeString given to the translation
    object is not kept as the answer to the same text given plain. (django.utils.translation's
    gettext hands the object a plain copy; the object is checked directly too.)"""
    text = "<b>nenhuma tradução</b>"
    marked = mark_safe(text)  # noqa: S308 (a constant: what is checked is that it stays apart)
    found = trans_real.translation("pt-br")

    def plain() -> None:
        for answer in (gettext(text), found.gettext(text)):
            assert not isinstance(answer, SafeData)
            assert escape(answer) == "&lt;b&gt;nenhuma tradução&lt;/b&gt;"

    def safe() -> None:
        found.gettext(marked)
        assert isinstance(gettext(marked), SafeData)

    for _ in range(2):
        for check in (safe, plain) if safe_first else (plain, safe):
            check()


def test_the_kept_answers_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(translations, "LIMIT", 3)
    found = trans_real.translation("en")
    for number in range(10):
        assert found.gettext(f"texto {number}") == f"texto {number}"
    assert len(vars(found)[translations._MEMO]) == 3
    assert found.gettext("Nome") == "Name"
