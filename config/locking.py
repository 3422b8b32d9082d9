"""Updates that never undo a concurrent writer's change (no lost updates).

A view reads its object before the service runs; saving that stale copy whole would write back
every column as it was read, silently undoing whatever another request committed in between
(a deactivation, a visibility change). Services therefore re-read the row under
`SELECT ... FOR UPDATE` (the lock is held until the request's transaction ends, so concurrent
updates of one row run one after the other, each on the latest values) and save only the
fields they changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from django.db.models import Model

M = TypeVar("M", bound=Model)


def lock_row(instance: M) -> M:
    """The row of `instance` re-read under FOR UPDATE; call inside a transaction."""
    manager = type(instance)._default_manager
    return manager.select_for_update().get(pk=instance.pk)


def save_fields(instance: Model, fields: Iterable[str]) -> None:
    """Saves only `fields` (and the model's auto_now columns); nothing when empty."""
    names = set(fields)
    if not names:
        return
    names |= {
        field.name for field in instance._meta.concrete_fields if getattr(field, "auto_now", False)
    }
    instance.save(update_fields=sorted(names))
