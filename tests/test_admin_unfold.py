"""Every admin and inline is built on django-unfold's classes (its templates expect them)."""

from __future__ import annotations

from django.contrib import admin
from unfold.admin import ModelAdmin, StackedInline, TabularInline

OUR_APPS = {"organizations", "leads", "mentorados", "followup", "integrations"}


def test_every_model_admin_and_inline_of_ours_is_an_unfold_class():
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in OUR_APPS:
            continue
        assert isinstance(model_admin, ModelAdmin), model
        for inline in model_admin.inlines:
            assert issubclass(inline, TabularInline | StackedInline), (model, inline)
