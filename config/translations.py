"""Each language's translations looked up once per message, then kept.

Django's translation of a language (`trans_real.DjangoTranslation`) keeps one catalogue per
plural rule among the apps' `.mo` files (11 for pt-BR here: Django's own pt_BR rule differs
from most packages'), then a chain of fallbacks (Python's `gettext` adds each package's
European `pt` catalogue behind its `pt_BR` one: 7 more). `gettext` asks each catalogue for
the message and then for its singular plural form before it moves on. The project's own
messages are written in Portuguese and translated only into English (`locale/`), so in pt-BR,
the default, every one of them misses everywhere: about 40 dictionary lookups and 18 calls,
4-8 µs on the 2-core machine, against 0.15 µs for a kept answer. A back-office list page asks
for 200-530 translations, the pipeline board ~2,500 (bench/README.md, "Translations kept;
responses compressed").

`install()` (config.apps.ProjectConfig.ready) gives DjangoTranslation a `gettext` that keeps
each answer in a dictionary on the translation object: the same catalogues give the same
answer for the life of the object, and Django makes new objects when a `.mo` file changes
(`translation_file_changed` in development). `pgettext` goes through `gettext` (the context
is part of the message) and is kept too; `ngettext` is left as it is (it depends on a count).

Only plain `str` messages and answers are kept: a miss answers with the message object itself,
and a `SafeString` message kept as the answer would come back marked safe to a caller who
passed plain text. The dictionary is capped (`LIMIT` messages per language): text translated
at run time (a value from the database passed to `gettext`) cannot grow it without bound.
"""

from __future__ import annotations

from gettext import GNUTranslations
from typing import Any

from django.utils.translation import trans_real

LIMIT = 20_000
_MEMO = "_kept_gettext"

_lookup = GNUTranslations.gettext


def kept_gettext(self: Any, message: str) -> str:
    if type(message) is not str:
        return _lookup(self, message)
    memo: dict[str, str] | None = self.__dict__.get(_MEMO)
    if memo is None:
        memo = self.__dict__[_MEMO] = {}
    try:
        return memo[message]
    except KeyError:
        pass
    answer = _lookup(self, message)
    if type(answer) is str and len(memo) < LIMIT:
        memo[message] = answer
    return answer


def install() -> None:
    """Once, at start-up. DjangoTranslation inherits `gettext` from Python's GNUTranslations
    (Django 5.2); if a later Django defines its own, this leaves it alone."""
    if "gettext" in vars(trans_real.DjangoTranslation):
        return
    trans_real.DjangoTranslation.gettext = kept_gettext  # type: ignore[method-assign]
