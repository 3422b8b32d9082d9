"""The back office's admin site (django-unfold), installed as Django's default admin site.

`config.apps.BackOfficeAdminConfig` replaces `django.contrib.admin` in INSTALLED_APPS and names
this class as `default_site`, so every `@admin.register` in the apps lands here.

Access follows the membership: every active member of an organization (and superusers) may use
the back office with the email and password they use on the API; there is no `is_staff` flag
to remember. What each role sees and changes is decided per model by organizations.access.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from unfold.forms import AuthenticationForm as UnfoldAuthenticationForm
from unfold.sites import UnfoldAdminSite

from organizations import access


class MemberAuthenticationForm(UnfoldAuthenticationForm):
    """The admin's login form: an active member (or a superuser) may enter."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "no_membership": _(
            "Esta conta não tem acesso ativo a nenhuma organização. Fale com o administrador."
        ),
    }

    def confirm_login_allowed(self, user: Any) -> None:
        if not user.is_active:
            raise ValidationError(self.error_messages["inactive"], code="inactive")
        if not (user.is_superuser or user.memberships.filter(ativo=True).exists()):
            raise ValidationError(self.error_messages["no_membership"], code="no_membership")


class BackOfficeSite(UnfoldAdminSite):
    """Unfold's admin site with the project's titles and the membership-based access."""

    site_title = _("Leads e Mentorias")
    site_header = _("Leads e Mentorias")
    index_title = _("Back office")
    login_form = MemberAuthenticationForm

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        self.login_form = MemberAuthenticationForm  # unfold's __init__ sets its own

    def has_permission(self, request: HttpRequest) -> bool:
        return access.has_backoffice_access(request)

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # Unfold's login form posts to `app_path` and, unlike Django's, has no hidden "next"
        # field: a login started at a bare /admin/login/ ended on LOGIN_REDIRECT_URL (the API's
        # browsable root). Without a "next", the back office's index is the destination.
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            index = reverse("admin:index", current_app=self.name)
            params = request.GET.copy()
            params[REDIRECT_FIELD_NAME] = index
            request.GET = params  # type: ignore[assignment]  # read by LoginView on success
            query = urlencode({REDIRECT_FIELD_NAME: index})
            extra_context = {**(extra_context or {}), "app_path": f"{request.path}?{query}"}
        return cast("HttpResponse", super().login(request, extra_context))

    def index(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # Sellers land on their day (tasks, replies, failed follow-ups); config.admin_myday.
        membership = access.admin_membership(request)
        if membership is not None and membership.is_seller:
            return redirect("admin-meu-dia")
        return cast("HttpResponse", super().index(request, extra_context))

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        # Every admin page's context carries `available_apps` (Django builds the whole app
        # list: ~60 URL reversals and a permission check per model). The sidebar is
        # UNFOLD["SIDEBAR"]["navigation"] and "all applications" is off, so unfold's templates
        # never read it; it is built only if a template does (list semantics kept).
        request._admin_app_list_later = True  # type: ignore[attr-defined]
        try:
            return cast("dict[str, Any]", super().each_context(request))
        finally:
            request._admin_app_list_later = False  # type: ignore[attr-defined]

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[Any]:
        build = super().get_app_list
        if getattr(request, "_admin_app_list_later", False):
            return cast("list[Any]", SimpleLazyObject(lambda: build(request, app_label)))
        return cast("list[Any]", build(request, app_label))

    def _build_app_dict(self, request: HttpRequest, label: str | None = None) -> dict[str, Any]:
        app_dict: dict[str, Any] = super()._build_app_dict(request, label)
        # The names as text once: `get_app_list` sorts them, and a lazy name is translated
        # again at every comparison (~1,300 translations a page, a third of the menu's time).
        for app in app_dict.values():
            app["name"] = str(app["name"])
            for model in app["models"]:
                model["name"] = str(model["name"])
        return app_dict

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        inner = super().admin_view(view, cacheable)

        def with_org_timezone(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            # Dates shown and typed in the admin are in the current organization's time zone.
            membership = access.admin_membership(request)
            if membership is None:
                return cast("HttpResponse", inner(request, *args, **kwargs))
            with timezone.override(membership.organization.timezone):
                response = inner(request, *args, **kwargs)
                render = getattr(response, "render", None)
                if render is not None and not getattr(response, "is_rendered", True):
                    render()  # TemplateResponse: render while the zone is active
                return cast("HttpResponse", response)

        with_org_timezone.__name__ = getattr(view, "__name__", "view")
        return with_org_timezone

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "organizacao/<uuid:organization_id>/",
                self.admin_view(self.switch_organization),
                name="switch-organization",
            ),
        ]
        return cast("list[URLPattern]", extra + super().get_urls())

    def switch_organization(self, request: HttpRequest, organization_id: uuid.UUID) -> Any:
        """Choose which of one's organizations the back office acts for (kept in the session);
        another organization's id changes nothing."""
        memberships = access.admin_memberships(request)
        if any(m.organization_id == organization_id for m in memberships):
            request.session[access.SESSION_KEY] = str(organization_id)
        return HttpResponseRedirect(reverse(f"{self.name}:index"))


def organization_dropdown(request: HttpRequest) -> list[dict[str, Any]]:
    """unfold's SITE_DROPDOWN: the requester's organizations, to switch between them."""
    current = access.admin_membership(request)
    items = []
    for membership in access.admin_memberships(request):
        marker = "check" if current is not None and membership.pk == current.pk else "apartment"
        items.append(
            {
                "title": f"{membership.organization.nome} · {membership.get_role_display()}",
                "link": reverse("admin:switch-organization", args=[membership.organization_id]),
                "icon": marker,
            }
        )
    return items
