"""The back office is fully in Portuguese for `pt-br` (issue 12, point 10).

Every admin page an organization's admin can open (each model's changelist, add, change,
delete and history pages and its custom views, the index, the board, the painel, "Meu dia", the
import wizard) is fetched with `Accept-Language: pt-br`; its visible text and its title,
placeholder, aria-label and alt attributes must contain no English phrase. English phrases are
the msgids of Django's and django-unfold's catalogues that Portuguese writes differently, plus
the English msgstrs of our own catalogue, matched case-sensitively on word boundaries.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterable
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import django
import factory.random
import pytest
import unfold
from django.conf import settings
from django.urls import reverse

from tests.admin_support import (
    SUPERUSER_ONLY_MODELS,
    build_world,
    label,
    login,
    model_urls,
    registered_models,
)

pytestmark = pytest.mark.django_db

DJANGO_CATALOGUES = [
    "conf/locale/pt_BR/LC_MESSAGES/django.mo",
    "contrib/admin/locale/pt_BR/LC_MESSAGES/django.mo",
    "contrib/admin/locale/pt_BR/LC_MESSAGES/djangojs.mo",
    "contrib/auth/locale/pt_BR/LC_MESSAGES/django.mo",
]

# Phrases the scan would flag that are right in a Portuguese page, with the reason.
ALLOWED = {
    # Brand and product names, and terms Brazilian sales teams use as they are.
    "CRM": "the acronym Brazilian sales teams use",
    "Email": "Brazilian Portuguese writes e-mail/Email too",
    "E-mail": "Brazilian Portuguese writes e-mail",
    "WhatsApp": "brand",
    "HubSpot": "brand",
    "Pipedrive": "brand",
    "Twilio": "brand",
    "SDR": "sales role name used in Brazil (the contract's role)",
    "Closer": "sales role name used in Brazil (the contract's role)",
    "NPS": "Net Promoter Score, used as is",
    "Lead": "the Portuguese term in Brazilian sales (lead, leads)",
    "Leads": "the Portuguese term in Brazilian sales",
    "Follow-up": "the Portuguese term in Brazilian sales",
    "Follow-ups": "the Portuguese term in Brazilian sales",
    "Score": "lead score, the term used in Brazilian sales",
    "Status": "status is Portuguese",
    "Tags": "tags is the word used in Brazilian apps",
    "Webhook": "technical term, no Portuguese word",
    "Webhooks": "technical term, no Portuguese word",
    "Token": "technical term, no Portuguese word",
    "URL": "technical term",
    "ID": "technical term",
    "CSV": "file format",
    "XLSX": "file format",
    "JSON": "format",
    "Back office": "the site's subtitle, a term used in Brazil",
    "Online": "used as is in Portuguese",
    "Total": "the same word in Portuguese",
    "Normal": "the same word in Portuguese",
    "Local": "the same word in Portuguese",
    "Global": "the same word in Portuguese",
    "Manual": "the same word in Portuguese",
    "Ideal": "the same word in Portuguese",
    "Digital": "the same word in Portuguese",
    "Social": "the same word in Portuguese",
    "Final": "the same word in Portuguese",
    "Original": "the same word in Portuguese",
    "Regular": "the same word in Portuguese",
    "Horizontal": "the same word in Portuguese",
    "Vertical": "the same word in Portuguese",
    "Real": "the same word in Portuguese",
    "Site": "used as is in Portuguese",
    "Login": "used as is in Portuguese",
    "Logo": "the same word in Portuguese",
    "Admin": "the role's name in the contract (admin)",
    "Dashboard": "used as is in Brazilian software",
    "Chat": "used as is in Portuguese",
    "Pix": "Brazilian payment brand",
    "A": "a Portuguese article",
    "E": "a Portuguese conjunction",
    "No": "'no' is a Portuguese contraction (em + o)",
    "Do": "'do' is a Portuguese contraction (de + o)",
    "De": "a Portuguese preposition",
    "Para": "a Portuguese preposition",
    "Sim": "Portuguese",
    "As": "a Portuguese article (as tarefas)",
    "Os": "a Portuguese article",
    "Se": "a Portuguese conjunction",
    "Data": "Portuguese for date",
    "Gateway": "technical term used as is (a WhatsApp gateway)",
    "Gateways": "technical term used as is",
}
ALLOWED_LOWER = {phrase.lower() for phrase in ALLOWED}


@cache
def _django_phrases() -> set[str]:
    """English msgids of Django's catalogues whose Brazilian translation differs."""
    phrases: set[str] = set()
    root = Path(django.__file__).parent
    for relative in DJANGO_CATALOGUES:
        with (root / relative).open("rb") as handle:
            catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
        for key, value in catalog.items():
            msgid = key[0] if isinstance(key, tuple) else key
            msgid = msgid.split("\x04")[-1]
            if msgid and value and value != msgid:
                phrases.add(msgid)
    return phrases


_UNFOLD_PATTERNS = [
    re.compile(r'\{%\s*(?:trans|translate)\s+"([^"]+)"'),
    re.compile(r"\{%\s*(?:trans|translate)\s+'([^']+)'"),
    re.compile(
        r"\{%\s*(?:blocktrans|blocktranslate)[^%]*%\}(.*?)"
        r"\{%\s*(?:endblocktrans|endblocktranslate|plural)",
        re.S,
    ),
    re.compile(r'\b(?:_|gettext|gettext_lazy|ngettext|ngettext_lazy)\(\s*"([^"]+)"'),
    re.compile(r"\b(?:_|gettext|gettext_lazy|ngettext|ngettext_lazy)\(\s*'([^']+)'"),
]


@cache
def unfold_msgids() -> set[str]:
    """django-unfold's translatable strings, read from its templates and code (its wheel
    ships no catalogue), in the catalogue's form (`{{ name }}` becomes `%(name)s`)."""
    found: set[str] = set()
    for path in Path(unfold.__file__).parent.rglob("*"):
        if path.suffix not in (".html", ".py"):
            continue
        text = path.read_text(errors="ignore")
        for pattern in _UNFOLD_PATTERNS:
            for match in pattern.findall(text):
                msgid = re.sub(r"\{\{\s*(\w+)\s*\}\}", r"%(\1)s", " ".join(match.split()))
                if msgid:
                    found.add(msgid)
    return found


@cache
def _our_english() -> set[str]:
    """Parts of our own catalogue's English translations that the Portuguese source does not
    contain (an API path or "opt-outs" are the same in both)."""
    path = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.mo"
    with path.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    fragments: set[str] = set()
    for key, value in catalog.items():
        msgid = (key[0] if isinstance(key, tuple) else key).split("\x04")[-1]
        if msgid and value and value != msgid:
            fragments.update(f for f in _fragments(value) if f not in msgid)
    return fragments


_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")


def _fragments(phrase: str) -> Iterable[str]:
    """The literal parts of a phrase between its placeholders, as whole words."""
    for part in _PLACEHOLDER.split(phrase):
        part = " ".join(part.split()).strip(" .:,;!?'\"()…“”’-")
        if re.search(r"[A-Za-z]{2,}", part) and part.lower() not in ALLOWED_LOWER:
            yield part


@cache
def english_pattern() -> re.Pattern[str]:
    phrases = _django_phrases() | unfold_msgids()
    fragments = {fragment for phrase in phrases for fragment in _fragments(phrase)}
    fragments |= _our_english()
    ordered = sorted(fragments, key=len, reverse=True)
    body = "|".join(re.escape(fragment) for fragment in ordered)
    # A word joined to a dot or a quote is a code or a JSON key shown as data (the outbound
    # webhooks' event names such as "interaction.created", a payload's "type"), not interface.
    return re.compile(rf"(?<![\w.\"-])(?:{body})(?![\w\"-]|\.\w)")


class VisibleText(HTMLParser):
    """Text a user sees or hears: text nodes (outside script, style and icon ligatures) and
    the title, placeholder, aria-label and alt attributes."""

    ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
    # Codes shown as such (field names, API paths) are data, not interface text.
    SKIPPED = {"script", "style", "noscript", "code", "pre", "kbd", "samp"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._stack: list[bool] = []  # per open element: is its text skipped

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for name in self.ATTRIBUTES:
            if a.get(name):
                self.texts.append(a[name])
        if tag in ("input", "button") and a.get("type") in ("submit", "button") and a.get("value"):
            self.texts.append(a["value"])
        if tag in self.VOID:
            return
        icon = "material-symbols" in a.get("class", "")
        self._stack.append(tag in self.SKIPPED or icon or (bool(self._stack) and self._stack[-1]))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for name in self.ATTRIBUTES:
            if a.get(name):
                self.texts.append(a[name])

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self._stack:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1]:
            return
        if data.strip():
            self.texts.append(" ".join(data.split()))


@cache
def _allowed_phrases() -> re.Pattern[str]:
    """Allowed phrases of several words ("Back office") are taken out before the scan, so
    their words are not flagged one by one."""
    phrases = sorted((phrase for phrase in ALLOWED if " " in phrase), key=len, reverse=True)
    return re.compile("|".join(rf"\b{re.escape(phrase)}\b" for phrase in phrases), re.I)


def english_in(html: str) -> set[str]:
    parser = VisibleText()
    parser.feed(html)
    pattern = english_pattern()
    texts = [_allowed_phrases().sub(" ", text) for text in parser.texts]
    return {match for text in texts for match in pattern.findall(text)}


def _pages(world: dict) -> Iterable[tuple[str, str]]:
    yield "index", reverse("admin:index")
    yield "painel", reverse("admin-painel")
    yield "meu dia", reverse("admin-meu-dia")
    for model, model_admin in registered_models():
        model_label = label(model)
        if model_label in SUPERUSER_ONLY_MODELS:
            continue
        for url in model_urls(model, model_admin):
            if url.kind in ("autocomplete", "progress", "errors"):
                continue  # JSON and CSV answers, not pages
            obj = world.get(model_label)
            if url.takes_object and obj is None:
                continue
            yield f"{model_label} {url.kind}", url.url(obj if url.takes_object else None)


def test_the_scan_recognises_english() -> None:
    """The detector itself: English admin and unfold phrases are caught, Portuguese is not."""
    assert english_in("<p>Select all rows</p><button title='Apply Filters'>x</button>")
    assert english_in("<input placeholder='Search apps and models...'>")
    assert english_in("<h1>Change history: Ana</h1>")
    assert english_in("<th>Organization</th>")  # our own catalogue's English
    assert not english_in("<p>Salvar e continuar editando</p><th>Organização</th>")
    assert not english_in("<span class='material-symbols-outlined'>search</span>")
    assert not english_in("<p>Lead quente do WhatsApp, status novo, score 80</p>")
    assert not english_in("<p>Leads e Mentorias</p><p>Back office</p>")
    assert not english_in('<pre>{"type": "lead.created"}</pre><label>interaction.created</label>')


def _plain_names() -> None:
    """Faker's pt-BR names include surnames that are also English words ("Sales", a common
    Brazilian surname, once failed this walk at random): the people of the walk get plain
    names, so only the interface's own text is judged. Their audit trail too: a lead's history
    page shows the names its versions were saved with. (Companies are plain already: the
    factory's are a fixed sequence, tests/factories.py.)"""
    from leads.models import Lead
    from mentorados.models import Mentorado
    from organizations.models import Membership, User

    for model in (User, Membership, Lead, Mentorado):
        versions = getattr(model, "history", None)  # the audited ones (privacy.models.AUDITED)
        for n, pk in enumerate(model.objects.order_by("pk").values_list("pk", flat=True)):
            model.objects.filter(pk=pk).update(nome_completo=f"Pessoa {n}")
            if versions is not None:
                versions.filter(id=pk).update(nome_completo=f"Pessoa {n}")


@pytest.mark.heavy
def test_every_admin_page_is_portuguese(org_a) -> None:
    # The same Faker names on every run (pytest-randomly reseeds Faker per run): names are
    # also copied into texts the walk shows (notification titles, follow-up logs), which the
    # plain names below do not reach.
    factory.random.reseed_random("test_every_admin_page_is_portuguese")
    world = build_world(org_a)
    _plain_names()
    client = login(org_a.admin)
    problems = []
    walked = 0
    for where, url in _pages(world):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="pt-br")
        assert response.status_code != 500, where
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        walked += 1
        found = english_in(response.content.decode())
        if found:
            problems.append(f"{where} ({url}): {sorted(found)}")
    assert walked > 60
    assert not problems, "English left on pt-br pages:\n" + "\n".join(problems)


def test_the_delete_action_agrees_in_gender(org_a) -> None:
    """Django's pt_BR writes "Remover tarefas selecionados"; ours agrees with the noun."""
    from django.utils import translation

    from leads.models import Lead, Task
    from organizations.admin import delete_selected_description

    with translation.override("pt-br"):
        task = str(delete_selected_description(Task)) % {"verbose_name_plural": "tarefas"}
        lead = str(delete_selected_description(Lead)) % {"verbose_name_plural": "leads"}
    assert task == "Remover tarefas selecionadas"
    assert lead == "Remover leads selecionados"

    build_world(org_a)
    html = (
        login(org_a.admin)
        .get("/admin/mentorados/evolucaofinanceira/", HTTP_ACCEPT_LANGUAGE="pt-br")
        .content.decode()
    )
    assert "Remover evoluções financeiras selecionadas" in html
    assert "selecionados" not in html.split("Remover evoluções")[1][:40]
    english = (
        login(org_a.admin)
        .get("/admin/mentorados/evolucaofinanceira/", HTTP_ACCEPT_LANGUAGE="en")
        .content.decode()
    )
    assert "Delete selected" in english
