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


def test_a_page_builds_the_app_list_only_when_a_template_reads_it(org_a, monkeypatch):
    """Unfold's sidebar is the navigation above; Django's list of every app and model
    (`available_apps`) is built for a page only if a template reads it, and the admin's index
    still lists the apps."""
    from django.contrib.admin import AdminSite
    from django.template import Context, Template

    from tests.admin_support import login

    built: list[str] = []
    build = AdminSite._build_app_dict

    def counted(self, request, label=None):
        built.append(request.path)
        return build(self, request, label)

    monkeypatch.setattr(AdminSite, "_build_app_dict", counted)
    client = login(org_a.admin)
    response = client.get("/admin/leads/lead/")
    assert response.status_code == 200
    assert built == []
    # Read by a template, it is the whole list, as Django builds it.
    apps = response.context["available_apps"]
    names = Template("{% for app in apps %}{{ app.app_label }} {% endfor %}").render(
        Context({"apps": apps})
    )
    assert built == ["/admin/leads/lead/"]
    assert {"leads", "mentorados", "organizations"} <= set(names.split())
    assert len(apps) == len(admin.site.get_app_list(response.wsgi_request))
    index = client.get("/admin/")
    assert index.status_code == 200
    assert "leads" in {app["app_label"] for app in index.context["app_list"]}


def test_the_sidebar_and_the_lead_rows_leave_no_key_unset_that_unfold_reads(org_a, monkeypatch):
    """Every key unfold's sidebar, list rows and two-line cells read is set (a read of a
    missing key costs Django an exception and a dir(): ~300 a lead list page before)."""
    from django.template import base

    from tests.admin_support import login
    from tests.factories import LeadFactory

    LeadFactory.create_batch(3, organization=org_a.org)
    failed: list[str] = []
    resolve = base.Variable._resolve_lookup  # type: ignore[attr-defined]

    def recorded(self, context):
        try:
            return resolve(self, context)
        except base.VariableDoesNotExist:
            failed.append(self.var)
            raise

    monkeypatch.setattr(base.Variable, "_resolve_lookup", recorded)
    response = login(org_a.admin).get("/admin/leads/lead/")
    assert response.status_code == 200
    ours = {
        "item.badge",
        "item.link_callback",
        "group.collapsible",
        "cl.model_admin.list_sections",
        "value.2",
        "value.3",
    }
    assert ours & set(failed) == set()
    assert len(failed) < 80, sorted(set(failed))
