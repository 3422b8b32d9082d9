"""The back office's admin site (django-unfold), installed as Django's default admin site.

`config.apps.BackOfficeAdminConfig` replaces `django.contrib.admin` in INSTALLED_APPS and names
this class as `default_site`, so every `@admin.register` in the apps lands here.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from unfold.sites import UnfoldAdminSite


class BackOfficeSite(UnfoldAdminSite):
    """Unfold's admin site with the project's titles."""

    site_title = _("Leads e Mentorias")
    site_header = _("Leads e Mentorias")
    index_title = _("Back office")

    def index(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # Sellers land on their day (tasks, replies, failed follow-ups); config.admin_myday.
        from leads.admin_board import admin_membership  # apps are loaded by now

        membership = admin_membership(request)
        if membership is not None and membership.is_seller:
            return redirect("admin-meu-dia")
        return super().index(request, extra_context)
