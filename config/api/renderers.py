"""The browsable API's renderer, with its raw-data form in the requester's language."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF labels the raw-data form "Media type" and "Content" (not translatable strings)."""

    def get_raw_data_form(self, data: Any, view: Any, method: str, request: Any) -> Any:
        form = super().get_raw_data_form(data, view, method, request)
        if form is not None:
            labels = {"_content_type": _("Tipo de conteúdo"), "_content": _("Conteúdo")}
            for name, label in labels.items():
                if name in form.fields:
                    form.fields[name].label = label
        return form
