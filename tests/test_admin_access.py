"""The admin follows the membership (organizations.access), walked URL by URL.

The URL list is derived from the admin site (`admin.site._registry` and each ModelAdmin's
`get_urls()`), so a new model or custom admin view is walked without editing this file. For
every role of organization A: each page of A's rows answers 200 when the role may read it
(per the area's policy) and 403/404 otherwise; each page of organization B's rows is a 404;
no page, dropdown or autocomplete answer names a row of B; nothing answers 500.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.forms.models import model_to_dict
from django.test import Client

from organizations import access
from organizations.models import Membership, Role
from tests.admin_support import (
    OUR_APPS,
    SUPERUSER_ONLY_MODELS,
    build_world,
    foreign_keys,
    form_data,
    label,
    login,
    model_urls,
    registered_models,
)
from tests.conftest import Org
from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = [role.value for role in Role]
READ_KINDS = {"changelist", "change", "history"}
STANDARD_KINDS = READ_KINDS | {"add", "delete"}
# Pages the admin does not offer although the area's policy would allow the action: the
# row is written elsewhere (interactions are added from the lead's page, via the service).
NOT_OFFERED = {
    ("leads.leadinteraction", "add"),
    ("integrations.webhookdelivery", "change-post"),  # a log: only the replay action
    ("organizations.invitation", "change-post"),  # read-only: only the cancel action
    # Records written by their services only (routing's assignments, merges): read-only in
    # the admin whatever the role; the consent ledger is append-only (a new record is added,
    # none is edited or deleted).
    *(
        (model_label, kind)
        for model_label in ("leads.leadassignment", "leads.leadmerge")
        for kind in ("add", "change-post", "delete")
    ),
    ("leads.consentrecord", "change-post"),
    ("leads.consentrecord", "delete"),
}
# Add pages that send to their own wizard (the import's upload step, which checks the role).
REDIRECTING_ADD = {"leads.leadimport"}
# Change pages that are the app's own view (the import's progress and result): a POST writes
# nothing whatever the role.
CUSTOM_CHANGE_PAGE = {"leads.leadimport"}
# Rows only some of the roles that read the model see: an import is its creator's (the SDR in
# the world below) and the managers'; a notification is its recipient's (the admin).
OBJECT_READERS = {
    "leads.leadimport": {Role.ADMIN, Role.GESTOR, Role.SDR},
    "organizations.notification": {Role.ADMIN},
}


def _action(kind: str) -> access.Action:
    actions = {"add": "add", "delete": "delete", "change-post": "change"}
    return actions.get(kind, "read")  # type: ignore[return-value]


def _expected_ok(
    model_admin: object, model_label: str, kind: str, role: str, *, takes_object: bool = True
) -> bool:
    policy: access.Policy = model_admin.policy  # type: ignore[attr-defined]
    if (model_label, kind) in NOT_OFFERED:
        return False
    allowed = role in policy.roles(_action(kind))
    if model_label in OBJECT_READERS and takes_object and kind not in ("changelist", "add"):
        return allowed and role in OBJECT_READERS[model_label]
    return allowed


def _markers(b: Org, world_b: dict) -> list[str]:
    """Strings that would reveal organization B: its name, ids and its members' emails."""
    found = [b.org.nome]
    for obj in world_b.values():
        if not isinstance(obj.pk, int):
            found.append(str(obj.pk))
    found += [b.member(role).user.email for role in ROLES]
    found += [str(b.member(role).pk) for role in ROLES]
    return found


def _assert_no_leak(response, markers: list[str], where: str) -> None:
    body = response.content.decode(errors="replace")
    leaked = [marker for marker in markers if marker in body]
    assert not leaked, f"{where} shows organization B: {leaked}"


@pytest.fixture
def worlds(org_a: Org, org_b: Org) -> tuple[dict, dict]:
    return build_world(org_a), build_world(org_b)


@pytest.mark.parametrize("role", ROLES)
def test_every_admin_url_as_each_role(role, org_a, org_b, worlds):
    world_a, world_b = worlds
    client = login(org_a.member(role))
    markers = _markers(org_b, world_b)
    walked = 0
    for model, model_admin in registered_models():
        model_label = label(model)
        for url in model_urls(model, model_admin):
            if model_label in SUPERUSER_ONLY_MODELS:
                if not url.takes_object:
                    response = client.get(url.url(None))
                    assert response.status_code in (401, 403), (model_label, url.kind, role)
                continue
            where = f"{role} {model_label} {url.kind}"
            if model_label.split(".")[0] not in OUR_APPS or model_label not in world_a:
                # Apps with their own rules (privacy) and models without a row in the world
                # yet: their pages still never fail and never show organization B.
                if not url.takes_object:
                    response = client.get(url.url(None))
                    assert response.status_code != 500, where
                    _assert_no_leak(response, markers, where)
                continue
            own = world_a[model_label]
            if url.kind == "add" and model_label in REDIRECTING_ADD:
                assert client.get(url.url(None)).status_code == 302, where
                continue
            response = client.get(url.url(own) if url.takes_object else url.url(None))
            walked += 1
            assert response.status_code != 500, where
            expected_ok = _expected_ok(
                model_admin, model_label, url.kind, role, takes_object=url.takes_object
            )
            if expected_ok:
                # A custom view (the board's column page, the import wizard's steps...) may want
                # query parameters (400) or send to the step the object is at (302, not login).
                ok = (200,) if url.kind in STANDARD_KINDS else (200, 302, 400)
                assert response.status_code in ok, (where, response.status_code)
                assert "/login/" not in response.get("Location", ""), where
            else:
                assert response.status_code in (403, 404), (where, response.status_code)
            _assert_no_leak(response, markers, where)
            if url.takes_object:
                other = client.get(url.url(world_b[model_label]))
                assert other.status_code in (403, 404), (where, "B", other.status_code)
                _assert_no_leak(other, markers, where + " (B's object)")
    assert walked > 60


@pytest.mark.parametrize("role", ROLES)
def test_every_autocomplete_answers_only_the_members_rows(role, org_a, org_b, worlds):
    _world_a, world_b = worlds
    client = login(org_a.member(role))
    markers = _markers(org_b, world_b)
    asked = 0
    for model, _model_admin in registered_models():
        if model._meta.app_label not in OUR_APPS:
            continue
        for field in foreign_keys(model):
            response = client.get(
                "/admin/autocomplete/",
                {
                    "app_label": model._meta.app_label,
                    "model_name": model._meta.model_name or "",
                    "field_name": field,
                    "term": "",
                },
            )
            asked += 1
            where = f"{role} autocomplete {label(model)}.{field}"
            assert response.status_code in (200, 403, 404), (where, response.status_code)
            _assert_no_leak(response, markers, where)
            if response.status_code == 200:
                ids = {item["id"] for item in json.loads(response.content)["results"]}
                assert not ids & {str(obj.pk) for obj in world_b.values()}, where
    assert asked > 10


@pytest.mark.heavy
def test_a_superuser_walks_every_page_of_every_organization(org_a, org_b, worlds):
    world_a, world_b = worlds
    client = Client()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    for model, model_admin in registered_models():
        model_label = label(model)
        for url in model_urls(model, model_admin):
            if url.takes_object and model_label not in world_a:
                continue
            if not url.takes_object and model_label not in world_a:
                assert client.get(url.url(None)).status_code != 500, model_label
                continue
            # A page without an object (a changelist, an add form, a custom view) is the same
            # page for both worlds: fetched once.
            for world in (world_a, world_b) if url.takes_object else (world_a,):
                response = client.get(url.url(world.get(model_label)))
                # 403 only where the admin offers the page to nobody (e.g. adding executions)
                # or the page works for members only (the board needs a membership).
                expected = (200,) if url.kind in READ_KINDS else (200, 302, 400, 403)
                assert response.status_code in expected, (model_label, url.kind, response)


# --- forms: every add, change and delete form as each role (issue 13.3) ----------------------


def _superuser_form(path: str) -> dict[str, list[str]]:
    root = Client()
    superuser = get_user_model().objects.filter(is_superuser=True).first()
    assert superuser is not None
    root.force_login(superuser)
    page = root.get(path)
    assert page.status_code == 200, path
    return form_data(page.content.decode())


@pytest.mark.parametrize("role", ROLES)
def test_every_add_change_and_delete_form_as_each_role(role, org_a, org_b, worlds):
    world_a, _world_b = worlds
    UserFactory(is_superuser=True, is_staff=True)
    member = org_a.member(role)
    client = login(member)
    ours = [
        (m, a)
        for m, a in registered_models()
        if m._meta.app_label in OUR_APPS and label(m) in world_a
    ]
    for model, model_admin in ours:
        model_label = label(model)
        obj = world_a[model_label]
        urls = {url.kind: url for url in model_urls(model, model_admin)}
        # change: the form as rendered, posted back unchanged
        change_path = urls["change"].url(obj)
        before = model_to_dict(model._default_manager.get(pk=obj.pk))
        data = _superuser_form(change_path)
        data["_save"] = [""]
        response = client.post(change_path, data)
        where = f"{role} {model_label} change POST"
        assert response.status_code != 500, where
        if model_label in CUSTOM_CHANGE_PAGE:
            assert response.status_code in (200, 403, 404), (where, response.status_code)
            assert model_to_dict(model._default_manager.get(pk=obj.pk)) == before, where
        elif _expected_ok(model_admin, model_label, "change-post", role):
            assert response.status_code in (200, 302), (where, response.status_code)
        else:
            assert response.status_code in (403, 404), (where, response.status_code)
            assert model_to_dict(model._default_manager.get(pk=obj.pk)) == before, where
        # add: the empty form
        if model_label in REDIRECTING_ADD:
            continue
        add_path = urls["add"].url(None)
        count = model._default_manager.count()
        response = client.post(add_path, {"_save": ""})
        where = f"{role} {model_label} add POST"
        assert response.status_code != 500, where
        if _expected_ok(model_admin, model_label, "add", role):
            assert response.status_code == 200, (where, response.status_code)  # form errors
        else:
            assert response.status_code == 403, (where, response.status_code)
        assert model._default_manager.count() == count, where
    # delete, dependents first so a cascade never removes a row before its turn
    for model, model_admin in reversed(ours):
        model_label = label(model)
        obj = world_a[model_label]
        if not model._default_manager.filter(pk=obj.pk).exists():
            continue
        delete_path = next(u for u in model_urls(model, model_admin) if u.kind == "delete")
        response = client.post(delete_path.url(obj), {"post": "yes"})
        where = f"{role} {model_label} delete POST"
        assert response.status_code != 500, where
        allowed = _expected_ok(model_admin, model_label, "delete", role)
        if allowed and model_label != "organizations.organization":
            assert response.status_code == 302, (where, response.status_code)
            assert not model._default_manager.filter(pk=obj.pk).exists(), where
        else:
            assert response.status_code in (403, 404), (where, response.status_code)
            assert model._default_manager.filter(pk=obj.pk).exists(), where


def test_the_walk_has_a_row_of_every_model_of_our_apps(org_a):
    """A model registered in the admin without a row in the world would be skipped by the
    walks above (its change and delete forms never posted): every one must have a row."""
    world = build_world(org_a)
    ours = {label(m) for m, _a in registered_models() if m._meta.app_label in OUR_APPS}
    assert ours - set(world) == set()


# --- explicit facts, independent of the policy table ----------------------------------------


def test_a_gestor_cannot_raise_their_own_role(org_a):
    client = login(org_a.gestor)
    path = f"/admin/organizations/membership/{org_a.gestor.pk}/change/"
    response = client.post(
        path, {"nome_completo": "Gestor", "role": "admin", "tipo_closer": "", "ativo": "on"}
    )
    assert response.status_code == 403
    org_a.gestor.refresh_from_db()
    assert org_a.gestor.role == Role.GESTOR


def test_a_gestor_cannot_raise_another_members_role(org_a):
    UserFactory(is_superuser=True, is_staff=True)
    path = f"/admin/organizations/membership/{org_a.closer.pk}/change/"
    data = _superuser_form(path)
    data.update({"role": ["admin"], "_save": [""]})
    response = login(org_a.gestor).post(path, data)
    assert response.status_code == 403  # memberships are changed by admins only
    org_a.closer.refresh_from_db()
    assert org_a.closer.role == Role.CLOSER
    data["role"] = ["gestor"]
    assert login(org_a.admin).post(path, data).status_code == 302
    org_a.closer.refresh_from_db()
    assert org_a.closer.role == Role.GESTOR


def test_no_member_grants_a_role_above_their_own():
    gestor = Membership(role=Role.GESTOR, ativo=True)
    closer = Membership(role=Role.CLOSER, ativo=True)
    assert access.assignable_roles(gestor) == ["gestor", "closer", "sdr", "mentor"]
    with pytest.raises(access.RoleNotAllowed):
        access.ensure_may_assign_role(actor=gestor, target=closer, role=Role.ADMIN)
    with pytest.raises(access.RoleNotAllowed):
        access.ensure_may_assign_role(actor=closer, target=closer, role=Role.GESTOR)
    access.ensure_may_assign_role(actor=gestor, target=closer, role=Role.GESTOR)


@pytest.mark.parametrize("role", ["gestor", "closer", "sdr", "mentor"])
def test_integration_settings_are_admin_only_in_the_admin(role, org_a):
    world = build_world(org_a)
    client = login(org_a.member(role))
    for model_name in ("whatsappaccount", "crmconnection"):
        obj = world[f"integrations.{model_name}"]
        assert client.get(f"/admin/integrations/{model_name}/").status_code == 403
        page = client.post(f"/admin/integrations/{model_name}/{obj.pk}/change/", {"ativo": ""})
        assert page.status_code == 403
    assert login(org_a.admin).get("/admin/integrations/crmconnection/").status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_every_active_member_logs_in_with_the_api_password(role, org_a):
    member = org_a.member(role)
    assert not member.user.is_staff
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": member.user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    index = client.get("/admin/")
    # Sellers land on their day ("Meu dia"); the others on the index.
    assert index.status_code == 200 or index["Location"] == "/admin/meu-dia/"


def test_a_login_started_at_the_bare_login_page_lands_in_the_back_office(org_a):
    # Unfold's form has no hidden "next": without a default, a login at /admin/login/ went to
    # LOGIN_REDIRECT_URL, the API's browsable root.
    client = Client()
    form = client.get("/admin/login/").content.decode()
    assert 'action="/admin/login/?next=%2Fadmin%2F"' in form
    response = client.post(
        "/admin/login/", {"username": org_a.admin.user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    seller = Client()
    response = seller.post(
        "/admin/login/", {"username": org_a.closer.user.email, "password": PASSWORD}
    )
    assert response["Location"] == "/admin/"
    assert seller.get("/admin/")["Location"] == "/admin/meu-dia/"
    # An explicit "next" is still honoured.
    response = Client().post(
        "/admin/login/?next=/admin/leads/lead/",
        {"username": org_a.gestor.user.email, "password": PASSWORD},
    )
    assert response["Location"] == "/admin/leads/lead/"


def test_the_createorg_admin_logs_in(db):
    call_command(
        "createorg", nome="Nova", admin_email="dona@nova.com.br", admin_password="senha-forte-9"
    )
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "dona@nova.com.br", "password": "senha-forte-9"}
    )
    assert response.status_code == 302
    assert client.get("/admin/leads/lead/").status_code == 200


def test_a_deactivated_member_and_a_user_without_organization_cannot_log_in(org_a):
    org_a.closer.ativo = False
    org_a.closer.save()
    loner = UserFactory()
    for user in (org_a.closer.user, loner):
        client = Client()
        response = client.post("/admin/login/", {"username": user.email, "password": PASSWORD})
        assert response.status_code == 200
        assert "não tem acesso ativo" in response.content.decode()
        assert client.get("/admin/").status_code == 302


def test_a_seller_of_an_atribuidos_organization_sees_only_their_leads(org_a):
    org_a.org.visibilidade_leads = "atribuidos"
    org_a.org.save()
    from tests.factories import LeadFactory

    mine = LeadFactory(organization=org_a.org, closer=org_a.closer, nome_completo="Meu Lead")
    other = LeadFactory(organization=org_a.org, nome_completo="Lead Alheio")
    client = login(org_a.closer)
    html = client.get("/admin/leads/lead/").content.decode()
    assert "Meu Lead" in html
    assert "Lead Alheio" not in html
    assert client.get(f"/admin/leads/lead/{other.pk}/change/").status_code == 404
    assert client.get(f"/admin/leads/lead/{mine.pk}/change/").status_code == 200
    # The lead choices of a task form are the leads the seller sees.
    form = client.get("/admin/leads/task/add/").content.decode()
    assert str(other.pk) not in form


def test_a_member_of_two_organizations_switches_between_them(org_a, org_b):
    MembershipFactory(organization=org_b.org, user=org_a.gestor.user, role=Role.CLOSER)
    client = login(org_a.gestor)
    assert client.get("/admin/organizations/membership/").status_code == 200
    client.get(f"/admin/organizacao/{org_b.org.pk}/")
    # As a closer of B now: B's members listed, A's gone.
    html = client.get("/admin/organizations/membership/").content.decode()
    assert org_b.sdr.user.email in html
    assert org_a.sdr.user.email not in html
