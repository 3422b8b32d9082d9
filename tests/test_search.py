"""Search ignores accents and case, in the API and the admin, for leads and mentees
(config/search.py), on PostgreSQL with the organization-first index and on SQLite."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client

from config import search
from leads.models import Lead
from leads.selectors import lead_search
from mentorados.models import Mentorado
from mentorados.selectors import mentorado_search
from tests.factories import LeadFactory
from tests.mentorados.factories import MentoradoFactory


def names(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["nome_completo"] for row in response.json()["data"]}


@pytest.fixture
def leads(org_a, org_b):
    # Every searched field given: the expected sets below read these values, not the factory's.
    LeadFactory(
        organization=org_a.org, nome_completo="Sérgio Dias", email="sd@x.com.br", empresa="Acme"
    )
    LeadFactory(organization=org_a.org, nome_completo="João Ávila", empresa="Padaria São João")
    LeadFactory(
        organization=org_a.org,
        nome_completo="Ana Lima",
        email="ANA.CONCEICAO@Exemplo.com.br",
        telefone="+5511987654321",
        empresa="Lima Consultoria",
    )
    LeadFactory(organization=org_b.org, nome_completo="Sérgio de Outra Org", empresa="Outra")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("sergio", {"Sérgio Dias"}),
        ("SÉRGIO", {"Sérgio Dias"}),
        ("Sergio", {"Sérgio Dias"}),
        ("joao", {"João Ávila"}),
        ("são joão", {"João Ávila"}),  # empresa
        ("padaria sao", {"João Ávila"}),
        ("conceição", {"Ana Lima"}),  # email, folded
        ("98765", {"Ana Lima"}),  # phone digits
        ("  ", {"Sérgio Dias", "João Ávila", "Ana Lima"}),  # blank: no filter
        ("%", set()),  # LIKE wildcards are literal
        ("ana_", set()),
        ("dias sd@x", set()),  # no match across two fields
    ],
)
def test_the_api_lead_search_ignores_accents_and_case(org_a, client_for, leads, term, expected):
    response = client_for(org_a.admin).get("/api/v1/leads/", {"search": term})
    assert names(response) == expected


@pytest.mark.django_db
def test_the_api_mentee_search_ignores_accents_and_case(org_a, org_b, client_for):
    MentoradoFactory(organization=org_a.org, nome_completo="João Conceição")
    MentoradoFactory(organization=org_a.org, nome_completo="Bia", programa="Gestão Avançada")
    MentoradoFactory(organization=org_b.org, nome_completo="João de Outra Org")
    client = client_for(org_a.admin)
    assert names(client.get("/api/v1/mentorados/", {"search": "joao conceicao"})) == {
        "João Conceição"
    }
    assert names(client.get("/api/v1/mentorados/", {"search": "GESTAO"})) == {"Bia"}


def _staff(membership) -> Client:
    membership.user.is_staff = True  # until staff status follows the membership everywhere
    membership.user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(membership.user)
    return client


@pytest.mark.django_db
def test_the_admin_search_is_the_api_search(org_a, leads):
    MentoradoFactory(organization=org_a.org, nome_completo="Sérgio Mentorado")
    client = _staff(org_a.admin)
    page = client.get("/admin/leads/lead/", {"q": "sergio"}).content.decode()
    assert "Sérgio Dias" in page
    assert "Outra Org" not in page
    assert "João Ávila" not in page
    page = client.get("/admin/leads/lead/", {"q": "SAO JOAO"}).content.decode()
    assert "João Ávila" in page
    assert "Sérgio Dias" not in page
    page = client.get("/admin/mentorados/mentorado/", {"q": "sergio"}).content.decode()
    assert "Sérgio Mentorado" in page


@pytest.mark.django_db
def test_the_search_expressions_are_the_fold_indexes(org_a, leads):
    """The index can answer the search: its expressions are the query's (with sequential
    scans off, PostgreSQL reads lead_org_search_col / mentorado_org_search_fold). Whether it
    is chosen on a large organization is measured in bench/README.md, not asserted here."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = lead_search(Lead.objects.all(), "sergio").order_by().explain()
    mentee_plan = mentorado_search(Mentorado.objects.all(), "joao").order_by().explain()
    assert "lead_org_search_col" in plan, plan
    assert "mentorado_org_search_fold" in mentee_plan, mentee_plan


def test_sqlite_gets_the_same_fold():
    raw = sqlite3.connect(":memory:")
    search.register_sqlite(sender=None, connection=SimpleNamespace(vendor="sqlite", connection=raw))
    raw.execute("CREATE TABLE t (nome TEXT)")
    raw.executemany("INSERT INTO t VALUES (?)", [("SÉRGIO DIAS",), ("João Ávila",), (None,)])
    rows = raw.execute(
        "SELECT nome FROM t WHERE f_unaccent(lower(nome)) LIKE ? ORDER BY nome",
        [f"%{search.fold('Sergio')}%"],
    ).fetchall()
    assert rows == [("SÉRGIO DIAS",)]
    assert raw.execute("SELECT f_unaccent(lower('JOÃO Ávila'))").fetchone() == ("joao avila",)
    assert raw.execute("SELECT f_unaccent(NULL)").fetchone() == (None,)


def test_fold():
    assert search.fold("Sérgio CONCEIÇÃO") == "sergio conceicao"


# --- the stored folded column (leads.search_fold, kept by the leads 0019 trigger) ------------


def _stored(lead: Lead) -> str:
    value = Lead.objects.values_list("search_fold", flat=True).get(pk=lead.pk)
    assert value is not None
    return value


def _expected(lead: Lead) -> str:
    lead.refresh_from_db()
    joined = "\x1f".join(value or "" for value in (lead.nome_completo, lead.email, lead.empresa))
    return search.fold(joined)


@pytest.mark.django_db
def test_the_stored_fold_follows_every_write_path(org_a):
    """Whatever writes nome_completo, email or empresa (a save, the service, update(),
    bulk_update, bulk_create, raw SQL, a merge), search_fold is config.search's fold of them."""
    from leads import services
    from leads.merge import leads_merge

    lead = LeadFactory(
        organization=org_a.org, nome_completo="Sérgio Dias", email="SD@X.com.br", empresa=""
    )
    assert _stored(lead) == _expected(lead) == "sergio dias\x1fsd@x.com.br\x1f"

    services.lead_update(lead=lead, actor=org_a.admin, data={"nome_completo": "Érica Souza"})
    assert _stored(lead) == _expected(lead)
    assert _stored(lead).startswith("erica souza")

    Lead.objects.filter(pk=lead.pk).update(empresa="Padaria São João")
    assert _stored(lead) == _expected(lead)
    assert _stored(lead).endswith("padaria sao joao")

    lead.refresh_from_db()
    lead.email = "ÉRICA@Exemplo.com.br"
    Lead.objects.bulk_update([lead], ["email"])
    assert _stored(lead) == _expected(lead)

    # A full save() of an instance whose search_fold in memory is stale ("") keeps it right.
    stale = Lead.objects.get(pk=lead.pk)
    stale.search_fold = ""
    stale.nome_completo = "Íris Conceição"
    stale.save()
    assert _stored(lead) == _expected(lead)
    assert _stored(lead).startswith("iris conceicao")

    (created,) = Lead.objects.bulk_create(
        [Lead(organization=org_a.org, nome_completo="Zé Ninguém", empresa="Açaí Ltda")]
    )
    assert _stored(created) == "ze ninguem\x1f\x1facai ltda"

    with connection.cursor() as cursor:
        cursor.execute("UPDATE leads SET email = %s WHERE id = %s", ["ZÉ@x.com", created.pk])
    assert _stored(created) == _expected(created)

    leads_merge(target=lead, other=created, campos={"nome_completo": "outro"}, actor=org_a.admin)
    assert _stored(lead) == _expected(lead)
    assert _stored(lead).startswith("ze ninguem")
    assert [found.pk for found in lead_search(Lead.objects.all(), "ze NINGUEM")] == [lead.pk]


@pytest.mark.django_db
def test_unrelated_writes_do_not_refold(org_a):
    """The trigger fires only on the searched columns (a score update recomputes nothing)."""
    lead = LeadFactory(organization=org_a.org, nome_completo="Ana", email=None, empresa="")
    with connection.cursor() as cursor:
        # Triggers off for this one write (a marker the trigger would have overwritten).
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE leads SET search_fold = 'marcador' WHERE id = %s", [lead.pk])
        cursor.execute("SET LOCAL session_replication_role = origin")
    Lead.objects.filter(pk=lead.pk).update(lead_score=50)
    assert _stored(lead) == "marcador"
    Lead.objects.filter(pk=lead.pk).update(nome_completo="Ana Maria")
    assert _stored(lead) == "ana maria\x1f\x1f"
