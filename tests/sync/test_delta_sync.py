"""Delta sync for mobile clients: updated_since, tombstones, ETag/If-None-Match, If-Match."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from leads.models import Lead, LeadInteraction, Task
from mentorados.models import Mentorado
from organizations.models import Deletion, Notification
from organizations.sync import deletions_prune
from tests.factories import InteractionFactory, LeadFactory, NotificationFactory, TaskFactory
from tests.mentorados.factories import MentoradoFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/"


def _age(model, pk, days=2):
    model.objects.filter(pk=pk).update(updated_at=timezone.now() - timedelta(days=days))


def _ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["data"]}


@pytest.mark.parametrize("kind", ["leads", "interactions", "tasks", "mentorados", "notifications"])
def test_it_lists_only_what_changed_since(org_a, client_for, kind):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    old: Any
    new: Any
    model: type[Any]
    if kind == "leads":
        old, new, url = lead, LeadFactory(organization=org_a.org), f"{API}leads/"
        model = Lead
    elif kind == "interactions":
        old, new = InteractionFactory(lead=lead), InteractionFactory(lead=lead)
        url, model = f"{API}leads/{lead.pk}/interactions/", LeadInteraction
    elif kind == "tasks":
        old, new = TaskFactory(responsavel=org_a.closer), TaskFactory(responsavel=org_a.closer)
        url, model = f"{API}tasks/", Task
    elif kind == "mentorados":
        old, new = (
            MentoradoFactory(organization=org_a.org),
            MentoradoFactory(organization=org_a.org),
        )
        url, model = f"{API}mentorados/", Mentorado
    else:
        old = NotificationFactory(recipient=org_a.admin)
        new = NotificationFactory(recipient=org_a.admin)
        url, model = f"{API}notifications/", Notification
    _age(model, old.pk)
    client = client_for(org_a.admin)
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    assert _ids(client.get(url, {"updated_since": since})) == {str(new.pk)}
    assert str(old.pk) in _ids(client.get(url))
    # The `+` of an offset sent unescaped in a query string arrives as a space.
    assert _ids(client.get(f"{url}?updated_since=2000-01-01T00:00:00+00:00")) >= {str(new.pk)}


@pytest.mark.parametrize("value", ["ontem", "2026-13-01T00:00:00Z", "12345", "2026-12-01T25:00"])
def test_a_malformed_updated_since_is_a_400(org_a, client_for, value):
    response = client_for(org_a.admin).get(f"{API}leads/", {"updated_since": value})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "details"}
    assert "updated_since" in body["details"]


def test_reading_a_notification_counts_as_a_change(org_a, client_for):
    notification = NotificationFactory(recipient=org_a.closer)
    _age(Notification, notification.pk)
    client = client_for(org_a.closer)
    since = (timezone.now() - timedelta(minutes=5)).isoformat()
    url = f"{API}notifications/"
    assert _ids(client.get(url, {"updated_since": since})) == set()
    client.post(f"{API}notifications/read-all/")
    assert _ids(client.get(url, {"updated_since": since})) == {str(notification.pk)}


def test_a_new_interaction_marks_its_lead_changed(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    _age(Lead, lead.pk)
    client = client_for(org_a.admin)
    since = (timezone.now() - timedelta(minutes=5)).isoformat()
    assert _ids(client.get(f"{API}leads/", {"updated_since": since})) == set()
    created = client.post(
        f"{API}leads/{lead.pk}/interactions/",
        {"tipo_interacao": "ligacao", "resultado": "agendamento"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert _ids(client.get(f"{API}leads/", {"updated_since": since})) == {str(lead.pk)}


# --- tombstones -------------------------------------------------------------------------------


def test_deleting_a_lead_leaves_tombstones_for_it_and_its_children(org_a, org_b, client_for):
    before = timezone.now() - timedelta(seconds=1)
    lead = LeadFactory(organization=org_a.org)
    interaction = InteractionFactory(lead=lead)
    task = TaskFactory(responsavel=org_a.closer, lead=lead)
    mentorado = MentoradoFactory(organization=org_a.org)
    client = client_for(org_a.admin)
    assert client.delete(f"{API}leads/{lead.pk}/").status_code == 204
    assert client.delete(f"{API}mentorados/{mentorado.pk}/").status_code == 204
    response = client.get(f"{API}sync/deletions/", {"since": before.isoformat()})
    assert response.status_code == 200, response.content
    rows = {(row["tipo"], row["id"]) for row in response.json()["data"]}
    assert rows == {
        ("lead", str(lead.pk)),
        ("interaction", str(interaction.pk)),
        ("task", str(task.pk)),
        ("mentorado", str(mentorado.pk)),
    }
    assert all(row["deleted_at"] for row in response.json()["data"])
    # Another organization sees none of them; later `since` sees none either.
    other = client_for(org_b.admin).get(f"{API}sync/deletions/", {"since": before.isoformat()})
    assert other.json()["data"] == []
    later = (timezone.now() + timedelta(seconds=1)).isoformat()
    assert client.get(f"{API}sync/deletions/", {"since": later}).json()["data"] == []
    only_tasks = client.get(f"{API}sync/deletions/", {"since": before.isoformat(), "tipo": "task"})
    assert [row["id"] for row in only_tasks.json()["data"]] == [str(task.pk)]


@pytest.mark.parametrize("query", [{}, {"since": "anteontem"}, {"since": "x", "tipo": "lead"}])
def test_deletions_need_a_valid_since(org_a, client_for, query):
    response = client_for(org_a.closer).get(f"{API}sync/deletions/", query)
    assert response.status_code == 400
    assert "since" in response.json()["details"]


def test_old_tombstones_are_pruned(org_a):
    lead = LeadFactory(organization=org_a.org)
    kept = lead.pk
    lead.delete()
    Deletion.objects.create(
        organization=org_a.org,
        tipo="lead",
        object_id=LeadFactory(organization=org_a.org).pk,
        deleted_at=timezone.now() - timedelta(days=91),
    )
    assert deletions_prune() == 1
    assert list(Deletion.objects.values_list("object_id", flat=True)) == [kept]


# --- ETag / If-None-Match -----------------------------------------------------------------------


def test_lists_and_details_carry_an_etag_and_answer_304(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    client = client_for(org_a.admin)
    for url in (f"{API}leads/", f"{API}leads/{lead.pk}/", f"{API}tasks/", f"{API}mentorados/"):
        first = client.get(url)
        etag = first["ETag"]
        assert etag.startswith('"')
        again = client.get(url, HTTP_IF_NONE_MATCH=etag)
        assert again.status_code == 304
        assert again.content == b""
        assert client.get(url, HTTP_IF_NONE_MATCH='"stale"').status_code == 200
    # A change changes the tag.
    before = client.get(f"{API}leads/{lead.pk}/")["ETag"]
    client.patch(f"{API}leads/{lead.pk}/", {"empresa": "Outra"}, format="json")
    assert client.get(f"{API}leads/{lead.pk}/", HTTP_IF_NONE_MATCH=before).status_code == 200


# --- If-Match -----------------------------------------------------------------------------------


def test_a_stale_if_match_is_a_412_and_writes_nothing(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, empresa="Antes")
    url = f"{API}leads/{lead.pk}/"
    phone, laptop = client_for(org_a.closer), client_for(org_a.admin)
    etag = phone.get(url)["ETag"]
    # The laptop edits first, with the right tag: accepted, and it gets the new tag back.
    first = laptop.patch(url, {"empresa": "Laptop"}, format="json", HTTP_IF_MATCH=etag)
    assert first.status_code == 200, first.content
    assert first["ETag"] == laptop.get(url)["ETag"] != etag
    # The phone edits from the old copy: told, and nothing is lost.
    second = phone.patch(url, {"empresa": "Phone"}, format="json", HTTP_IF_MATCH=etag)
    assert second.status_code == 412
    body = second.json()
    assert set(body) == {"error", "details"}
    assert body["details"]["etag"] == first["ETag"]
    lead.refresh_from_db()
    assert lead.empresa == "Laptop"
    # Re-read, re-apply: accepted.
    fresh = phone.get(url)["ETag"]
    assert (
        phone.patch(url, {"empresa": "Phone"}, format="json", HTTP_IF_MATCH=fresh).status_code
        == 200
    )


def test_if_match_guards_tasks_and_mentorados_too(org_a, client_for):
    client = client_for(org_a.admin)
    task = TaskFactory(responsavel=org_a.closer, titulo="A")
    mentorado = MentoradoFactory(organization=org_a.org, programa="A")
    for url, field, model, obj in (
        (f"{API}tasks/{task.pk}/", "titulo", Task, task),
        (f"{API}mentorados/{mentorado.pk}/", "programa", Mentorado, mentorado),
    ):
        stale = '"0123456789abcdef0123456789abcdef"'
        response = client.patch(url, {field: "B"}, format="json", HTTP_IF_MATCH=stale)
        assert response.status_code == 412
        assert getattr(model.objects.get(pk=obj.pk), field) == "A"
        etag = client.get(url)["ETag"]
        assert client.patch(url, {field: "B"}, format="json", HTTP_IF_MATCH=etag).status_code == 200
        assert getattr(model.objects.get(pk=obj.pk), field) == "B"


@pytest.mark.django_db(transaction=True)
def test_the_row_is_locked_while_if_match_is_checked(org_a, client_for):
    """A writer holding the row when the request arrives: the request waits for its commit,
    then sees the new row and refuses (no lost update between check and write)."""
    lead = LeadFactory(organization=org_a.org, empresa="Antes")
    url = f"{API}leads/{lead.pk}/"
    client = client_for(org_a.admin)
    etag = client.get(url)["ETag"]
    locked = threading.Event()

    def other_writer() -> None:
        try:
            with transaction.atomic():
                row = Lead.objects.select_for_update().get(pk=lead.pk)
                locked.set()
                time.sleep(0.5)
                row.empresa = "Outro"
                row.save()
        finally:
            connection.close()

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert locked.wait(5)
    response = client.patch(url, {"empresa": "Meu"}, format="json", HTTP_IF_MATCH=etag)
    thread.join()
    assert response.status_code == 412, response.content
    assert Lead.objects.get(pk=lead.pk).empresa == "Outro"


def test_closer_id_me_filters_the_leads_list(org_a, client_for):
    mine = LeadFactory(organization=org_a.org, closer=org_a.closer)
    LeadFactory(organization=org_a.org, closer=None)
    response = client_for(org_a.closer).get(f"{API}leads/", {"closer_id": "me"})
    assert _ids(response) == {str(mine.pk)}
    sdr = client_for(org_a.sdr).get(f"{API}leads/", {"sdr_id": "me"})
    assert sdr.status_code == 200
    assert client_for(org_a.closer).get(f"{API}leads/", {"closer_id": "eu"}).status_code == 400
