"""The sidebar (config/admin_nav.py) names only registered models and resolvable pages."""

from __future__ import annotations

from django.contrib import admin

from config import admin_nav


def test_every_sidebar_model_is_registered_and_every_link_resolves():
    registered = {f"{m._meta.app_label}.{m._meta.model_name}" for m in admin.site._registry}
    for group in admin_nav.sections():
        for item in group["items"]:
            assert str(item["link"]).startswith("/"), item
            label = item.get("model")
            if label is not None:
                assert label in registered, label


OUR_APPS = {"organizations", "leads", "mentorados", "followup", "integrations", "privacy"}


def test_every_model_of_ours_is_in_the_sidebar():
    in_sidebar = {item.get("model") for group in admin_nav.sections() for item in group["items"]}
    registered = {
        f"{m._meta.app_label}.{m._meta.model_name}"
        for m in admin.site._registry
        if m._meta.app_label in OUR_APPS
    }
    assert registered <= in_sidebar, registered - in_sidebar
