"""An interaction's `proximo_passo` naming a day becomes a task (parser, then through the API)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from leads.models import Task
from leads.next_step import parse_due
from tests.factories import LeadFactory

SP = "America/Sao_Paulo"
# Thursday 2026-12-03, 22:30 in São Paulo (already Friday in UTC).
NOW = datetime(2026, 12, 4, 1, 30, tzinfo=ZoneInfo("UTC"))


def at(*args: int) -> datetime:
    year, month, day, *rest = args
    hour, minute, second, micro = [*rest, 0, 0, 0, 0][:4]
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=ZoneInfo(SP))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ligar em 10/12/2026", at(2026, 12, 10, 9)),
        ("retornar 10/12/26 às 14h", at(2026, 12, 10, 14)),
        ("Enviar proposta 05-01-2027 14:30", at(2027, 1, 5, 14, 30)),
        ("reunião 15/12 às 9h30", at(2026, 12, 15, 9, 30)),
        ("ligar 02/12", at(2027, 12, 2, 9)),  # already past this year: next year
        ("Ligar amanhã", at(2026, 12, 4, 9)),  # the organization's day, not UTC's
        ("ligar AMANHA as 16h", at(2026, 12, 4, 16)),
        ("hoje 18:00 mandar contrato", at(2026, 12, 3, 18)),
        ("depois de amanhã, 10h", at(2026, 12, 5, 10)),
    ],
)
def test_it_reads_the_day_and_time(text, expected):
    assert parse_due(text, now=NOW, tz=SP) == expected


@pytest.mark.parametrize(
    "text",
    ["", "Mandar proposta", "ligar 31/02/2027", "ligar 10/13", "valor 1.500", "às 25h amanhã x"],
)
def test_it_creates_nothing_without_a_valid_day(text):
    due = parse_due(text, now=NOW, tz=SP)
    if text == "às 25h amanhã x":  # the day is valid; the bad time falls back to 9h
        assert due == at(2026, 12, 4, 9)
    else:
        assert due is None


@pytest.mark.django_db
def test_it_creates_the_task_through_the_api(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    url = f"/api/v1/leads/{lead.pk}/interactions/"
    body = {
        "tipo_interacao": "ligacao",
        "resultado": "follow_up",
        "resumo": "Pediu retorno",
        "proximo_passo": "Ligar de novo em 10/12/2099 às 14h",
    }
    response = client_for(org_a.closer).post(url, body, format="json")
    assert response.status_code == 201, response.content
    task = Task.objects.get(lead=lead)
    assert task.responsavel == org_a.closer
    assert task.status == "pendente"
    assert task.titulo == "Ligar de novo em 10/12/2099 às 14h"
    assert task.vencimento == at(2099, 12, 10, 14)
    assert task.origem_ref == f"interaction:{response.json()['id']}"
    listed = client_for(org_a.closer).get("/api/v1/tasks/", {"lead_id": str(lead.pk)}).json()
    assert [item["id"] for item in listed["data"]] == [str(task.pk)]


@pytest.mark.django_db
def test_it_creates_no_task_without_a_day(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    body = {"tipo_interacao": "ligacao", "proximo_passo": "mandar proposta"}
    response = client_for(org_a.gestor).post(
        f"/api/v1/leads/{lead.pk}/interactions/", body, format="json"
    )
    assert response.status_code == 201
    assert not Task.objects.filter(lead=lead).exists()
