"""Admin for mentees: scoped to the staff member's organizations, writes through the services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from mentorados.models import EvolucaoFinanceira, Mentorado, MentoradoFeedback
from organizations.models import Notification
from tests.mentorados.factories import EvolucaoFactory, FeedbackFactory, MentoradoFactory

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/mentorados/mentorado/add/"


def staff_client(membership) -> Client:
    membership.user.is_staff = True
    membership.user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(membership.user)
    return client


def formset(prefix: str, rows: list[dict[str, Any]], initial: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"{prefix}-{index}-{key}"] = value
    return data


def mentee_form(org, mentor, **overrides: Any) -> dict[str, Any]:
    data = {
        "organization": str(org.pk),
        "mentor": str(mentor.pk) if mentor else "",
        "nome_completo": "Fernanda Lopes",
        "email": "Fernanda@Negocio.com.br",
        "telefone": "11 98888-7777",
        "programa": "Elite",
        "data_inicio": "2025-01-10",
        "status": "ativo",
    }
    data.update(overrides)
    return data


def test_it_adds_a_mentee_with_inline_months_and_feedback_through_the_services(org_a):
    client = staff_client(org_a.admin)
    data = mentee_form(org_a.org, org_a.mentor)
    data |= formset(
        "evolucoes",
        [
            {"ano": "2025", "mes": "1", "faturamento": "1000"},
            {"ano": "2025", "mes": "2", "faturamento": "1500"},
        ],
    )
    data |= formset(
        "feedbacks", [{"data_feedback": "2025-02-10", "nota_nps": "3", "nota_geral": "4"}]
    )
    response = client.post(ADD_URL, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    mentee = Mentorado.objects.get()
    assert mentee.organization_id == org_a.org.pk
    assert (mentee.email, mentee.telefone) == ("fernanda@negocio.com.br", "+5511988887777")
    assert mentee.faturamento_atual == Decimal("1500.00")
    assert mentee.crescimento_percentual == Decimal("50.00")
    assert set(EvolucaoFinanceira.objects.values_list("organization_id", flat=True)) == {
        org_a.org.pk
    }
    feedback = MentoradoFeedback.objects.get()
    assert feedback.organization_id == org_a.org.pk
    # The service raised the low-satisfaction notification.
    assert set(
        Notification.objects.filter(tipo="low_satisfaction").values_list("recipient_id", flat=True)
    ) == {org_a.mentor.pk, org_a.admin.pk, org_a.gestor.pk}


def test_it_edits_and_deletes_inline_months_recomputing_the_figures(org_a):
    mentee = MentoradoFactory(organization=org_a.org, mentor=org_a.mentor)
    jan = EvolucaoFactory(mentorado=mentee, ano=2025, mes=1, faturamento=Decimal("100"))
    feb = EvolucaoFactory(mentorado=mentee, ano=2025, mes=2, faturamento=Decimal("200"))
    client = staff_client(org_a.gestor)
    data = mentee_form(org_a.org, org_a.mentor, nome_completo=mentee.nome_completo)
    data.pop("organization")
    data |= formset(
        "evolucoes",
        [
            {
                "id": str(feb.pk),
                "mentorado": str(mentee.pk),
                "ano": "2025",
                "mes": "2",
                "faturamento": "300",
            },
            {
                "id": str(jan.pk),
                "mentorado": str(mentee.pk),
                "ano": "2025",
                "mes": "1",
                "faturamento": "100",
                "DELETE": "on",
            },
        ],
        initial=2,
    )
    data |= formset("feedbacks", [])
    response = client.post(f"/admin/mentorados/mentorado/{mentee.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(EvolucaoFinanceira.objects.values_list("mes", "faturamento")) == [
        (2, Decimal("300.00"))
    ]
    mentee.refresh_from_db()
    assert mentee.faturamento_atual == Decimal("300.00")
    assert mentee.crescimento_percentual is None


def test_it_rejects_a_mentor_from_another_organization(org_a, org_b):
    client = staff_client(org_a.admin)
    data = mentee_form(org_a.org, org_b.mentor)
    data |= formset("evolucoes", []) | formset("feedbacks", [])
    response = client.post(ADD_URL, data)
    assert response.status_code == 200  # the form again, with the error
    assert not Mentorado.objects.exists()


def test_it_shows_only_the_staff_members_organizations(org_a, org_b):
    mine = MentoradoFactory(organization=org_a.org, nome_completo="Minha Mentorada")
    theirs = MentoradoFactory(organization=org_b.org, nome_completo="Outra Mentorada")
    EvolucaoFactory(mentorado=theirs)
    FeedbackFactory(mentorado=theirs)
    client = staff_client(org_a.admin)
    page = client.get("/admin/mentorados/mentorado/?q=mentorada&status__exact=ativo")
    assert page.status_code == 200
    assert "Minha Mentorada" in page.content.decode()
    assert "Outra Mentorada" not in page.content.decode()
    assert client.get(f"/admin/mentorados/mentorado/{mine.pk}/change/").status_code == 200
    assert client.get(f"/admin/mentorados/mentorado/{theirs.pk}/change/").status_code == 404
    for path in ("evolucaofinanceira", "mentoradofeedback"):
        listing = client.get(f"/admin/mentorados/{path}/?q=outra")
        assert listing.status_code == 200
        assert "Outra Mentorada" not in listing.content.decode()


def test_it_adds_a_standalone_feedback_through_the_service(org_a):
    mentee = MentoradoFactory(organization=org_a.org, mentor=org_a.mentor)
    client = staff_client(org_a.admin)
    response = client.post(
        "/admin/mentorados/mentoradofeedback/add/",
        {
            "mentorado": str(mentee.pk),
            "data_feedback": "2025-05-01",
            "nota_nps": "9",
            "nota_geral": "2",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert MentoradoFeedback.objects.get().organization_id == org_a.org.pk
    assert Notification.objects.filter(tipo="low_satisfaction").count() == 3


def test_it_refreshes_figures_from_the_admin_action(org_a):
    mentee = MentoradoFactory(organization=org_a.org, faturamento_atual=Decimal("1"))
    EvolucaoFactory(mentorado=mentee, faturamento=Decimal("4321"))
    client = staff_client(org_a.admin)
    response = client.post(
        "/admin/mentorados/mentorado/",
        {"action": "refresh_figures", "_selected_action": [str(mentee.pk)]},
    )
    assert response.status_code == 302
    mentee.refresh_from_db()
    assert mentee.faturamento_atual == Decimal("4321.00")
