"""The requester's membership, with its user and organization, in one statement written once.

Every API request looks it up (organizations.authentication). The ORM would compile a
three-table `select_related` query on each request, which took longer than running it
(bench/README.md, "Authentication"): here the statement is written once per process and
database from the models' own columns, and the rows become model instances the way the ORM
makes them (`Model.from_db`, the backend's and the fields' converters, the related objects
cached on the membership as `select_related` caches them).
"""

from __future__ import annotations

import functools
import uuid
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.db import connections, router
from django.db.models import Field, Model

from config import db_rows
from organizations.models import Membership, Organization


def active_membership(user_id: Any, organization_id: uuid.UUID | None) -> Membership | None:
    """The user's active membership in that organization (or their oldest one, by creation),
    with its user and organization; None without one."""
    alias = router.db_for_read(Membership)
    connection = connections[alias]
    sql, readers = _statement(alias, by_organization=organization_id is not None)
    user_field = Membership._meta.get_field("user")
    organization_field = Membership._meta.get_field("organization")
    params = [user_field.target_field.get_db_prep_value(user_id, connection), True]
    if organization_id is not None:
        target = organization_field.target_field
        params.append(target.get_db_prep_value(organization_id, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    membership, user, organization = (read(row) for read in readers)
    user_field.set_cached_value(membership, user)
    organization_field.set_cached_value(membership, organization)
    return cast(Membership, membership)


@functools.cache
def _statement(alias: str, *, by_organization: bool) -> tuple[str, list[Any]]:
    connection = connections[alias]
    quote = connection.ops.quote_name
    models: list[tuple[type[Model], str]] = [
        (Membership, "m"),
        (get_user_model(), "u"),
        (Organization, "o"),
    ]
    columns: list[str] = []
    readers = []
    for model, table_alias in models:
        fields = list(model._meta.concrete_fields)
        start = len(columns)
        columns += [f"{table_alias}.{quote(str(field.column))}" for field in fields]
        readers.append(_reader(model, fields, start, alias))
    m, u, o = (quote(model._meta.db_table) for model, _alias in models)
    user_fk, user_pk = _join_columns("user", quote)
    org_fk, org_pk = _join_columns("organization", quote)
    sql = (
        # Names from the models' metadata, quoted by the backend; values are parameters.
        f"SELECT {', '.join(columns)} FROM {m} m"  # noqa: S608
        f" INNER JOIN {u} u ON u.{user_pk} = m.{user_fk}"
        f" INNER JOIN {o} o ON o.{org_pk} = m.{org_fk}"
        f" WHERE m.{user_fk} = %s AND m.{quote('ativo')} = %s"
    )
    if by_organization:
        sql += f" AND m.{org_fk} = %s"
    return sql + f" ORDER BY m.{quote('created_at')}, m.{quote('id')} LIMIT 1", readers


def _join_columns(name: str, quote: Any) -> tuple[str, str]:
    """Membership's foreign key column `name` and the column it points to, quoted."""
    field: Any = Membership._meta.get_field(name)
    return quote(str(field.column)), quote(str(field.target_field.column))


def _reader(model: type[Model], fields: list[Field[Any, Any]], start: int, alias: str) -> Any:
    """Builds `model`'s instance from its slice of a row, as the ORM's iterator does."""
    connection = connections[alias]
    names = [field.attname for field in fields]
    table = str(model._meta.db_table)
    converters = db_rows.column_converters(((table, field) for field in fields), connection)
    stop = start + len(fields)

    def read(row: tuple[Any, ...]) -> Model:
        values = db_rows.converted(row[start:stop], converters, connection)
        return model.from_db(alias, names, values)

    return read
