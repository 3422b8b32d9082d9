"""API filters that know the organization's members (the `me` shortcut)."""

from __future__ import annotations

import uuid
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from organizations.scoping import request_membership


class MemberOrMeField(forms.CharField):
    """A membership id, or `me` for the requester."""

    def clean(self, value: Any) -> uuid.UUID | str | None:
        text = (super().clean(value) or "").strip()
        if not text:
            return None
        if text == "me":
            return text
        try:
            return uuid.UUID(text)
        except ValueError:
            raise forms.ValidationError(_("Use o id de um membro ou 'me'.")) from None


class MemberOrMeFilter(django_filters.Filter):
    """`?<field>_id=<membership id>` or `=me`: rows whose `field_name` member is that one."""

    field_class = MemberOrMeField

    def filter(self, qs: QuerySet[Any], value: uuid.UUID | str | None) -> QuerySet[Any]:
        if value is None:
            return qs
        if isinstance(value, uuid.UUID):
            return qs.filter(**{f"{self.field_name}_id": value})
        request = self.parent.request if self.parent else None
        return qs.filter(**{self.field_name: request_membership(request)})
