"""Lead routing: rules in order, round-robin / weighted / fixed, absences, daily capacity, the
history and notifications, every creation path, the API and admin, and concurrent creates."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from leads import services
from leads.models import Distribuicao, Lead, LeadAssignment, RoutingRule, RoutingRuleMember
from organizations.models import MemberAbsence, Membership, Notification, Role
from tests.conftest import Org
from tests.factories import MembershipFactory
from tests.mentorados.test_concurrency import api_client, run_together

RULES = "/api/v1/routing-rules/"


def closers(org: Org, n: int) -> list[Membership]:
    return [org.closer] + [
        MembershipFactory(organization=org.org, role=Role.CLOSER) for _ in range(n - 1)
    ]


def make_rule(
    org: Org,
    members: list[Membership],
    *,
    distribuicao: str = Distribuicao.RODIZIO,
    condicao: dict[str, Any] | None = None,
    ordem: int = 0,
    pesos: list[int] | None = None,
    capacidade: int | None = None,
    nome: str = "Geral",
) -> RoutingRule:
    rule = RoutingRule.objects.create(
        organization=org.org,
        nome=nome,
        ordem=ordem,
        condicao=condicao or {},
        distribuicao=distribuicao,
        capacidade_diaria=capacidade,
    )
    for i, member in enumerate(members):
        RoutingRuleMember.objects.create(
            rule=rule, membership=member, posicao=i, peso=(pesos or [1] * len(members))[i]
        )
    return rule


def create(org: Org, **data: Any) -> Lead:
    data.setdefault("nome_completo", "Lead")
    return services.lead_create(organization=org.org, actor=None, data=data)


@pytest.mark.django_db
class TestRules:
    def test_round_robin_cycles_in_order_and_records_why(self, org_a, client_for):
        members = closers(org_a, 3)
        make_rule(org_a, members, nome="Instagram")
        gestor = client_for(org_a.gestor)
        owners = []
        for i in range(4):
            response = gestor.post("/api/v1/leads/", {"nome_completo": f"L{i}"}, format="json")
            assert response.status_code == 201
            owners.append(response.json()["closer_id"])
        assert owners == [str(m.pk) for m in [*members, members[0]]]
        lead = Lead.objects.get(nome_completo="L0")
        assignment = LeadAssignment.objects.get(lead=lead)
        assert assignment.motivo == "atribuído por rodízio: regra Instagram"
        timeline = gestor.get(f"/api/v1/leads/{lead.pk}/timeline/").json()["data"]
        assert any(
            item["tipo"] == "assignment" and "rodízio" in item["motivo"] for item in timeline
        )
        titles = Notification.objects.filter(recipient=members[0], tipo="lead_assigned")
        assert sorted(n.titulo for n in titles) == [
            "Novo lead para você: L0",
            "Novo lead para você: L3",
        ]

    def test_first_matching_active_rule_wins(self, org_a):
        a, b, c = closers(org_a, 3)
        make_rule(org_a, [a], ordem=1, condicao={"origem": ["instagram"]})
        make_rule(org_a, [b], ordem=2, condicao={"tags": ["vip"], "valor_min": "1000"})
        inactive = make_rule(org_a, [a], ordem=0)
        inactive.ativo = False
        inactive.save()
        make_rule(org_a, [c], ordem=3)
        assert create(org_a, origem="instagram").closer == a
        assert create(org_a, tags=["VIP"], valor_potencial="5000").closer == b
        assert create(org_a, tags=["vip"], valor_potencial="500").closer == c
        assert create(org_a, tags=["vip"]).closer == c

    def test_weighted_distribution_is_exact_over_a_cycle(self, org_a):
        a, b = closers(org_a, 2)
        make_rule(org_a, [a, b], distribuicao=Distribuicao.PONDERADA, pesos=[2, 1])
        owners = Counter(create(org_a).closer_id for _ in range(6))
        assert owners == {a.pk: 4, b.pk: 2}

    def test_fixed_member_and_sdr_field(self, org_a):
        make_rule(org_a, [org_a.sdr], distribuicao=Distribuicao.FIXO)
        lead = create(org_a)
        assert lead.sdr == org_a.sdr
        assert lead.closer is None
        assert LeadAssignment.objects.get(lead=lead).campo == "sdr"

    def test_absent_and_full_members_are_skipped(self, org_a):
        a, b, c = closers(org_a, 3)
        today = timezone.localdate()
        MemberAbsence.objects.create(
            organization=org_a.org, membership=b, inicio=today - timedelta(days=1), fim=today
        )
        make_rule(org_a, [a, b, c], capacidade=2)
        owners = [create(org_a).closer_id for _ in range(5)]
        assert owners == [a.pk, c.pk, a.pk, c.pk, None]
        assert Notification.objects.filter(
            tipo="lead_assigned", recipient=org_a.gestor, payload__sem_responsavel=True
        ).exists()
        assert LeadAssignment.objects.filter(membership__isnull=True).count() == 1

    def test_inactive_members_and_leads_with_an_owner_are_left_alone(self, org_a):
        a, b = closers(org_a, 2)
        b.ativo = False
        b.save()
        make_rule(org_a, [a, b])
        assert create(org_a).closer == a
        assert create(org_a).closer == a
        owned = create(org_a, sdr=org_a.sdr)
        assert owned.closer is None
        assert not LeadAssignment.objects.filter(lead=owned).exists()

    def test_a_seller_creating_keeps_the_lead(self, org_a, client_for):
        make_rule(org_a, closers(org_a, 2)[1:])
        response = client_for(org_a.sdr).post(
            "/api/v1/leads/", {"nome_completo": "Meu"}, format="json"
        )
        assert response.json()["sdr_id"] == str(org_a.sdr.pk)
        assert response.json()["closer_id"] is None

    def test_no_rule_no_change(self, org_a):
        assert create(org_a).closer is None
        assert LeadAssignment.objects.count() == 0

    def test_an_import_routes_its_unowned_rows(
        self, org_a, client_for, django_capture_on_commit_callbacks
    ):
        from django.core.files.uploadedfile import SimpleUploadedFile

        from tests.integrations.jobs import run_jobs

        a, b = closers(org_a, 2)
        make_rule(org_a, [a, b])
        csv = "nome_completo,email\nUm,um@x.com\nDois,dois@x.com\nTres,tres@x.com\n"
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(org_a.gestor).post(
                "/api/v1/leads/import/",
                {"file": SimpleUploadedFile("l.csv", csv.encode(), content_type="text/csv")},
                format="multipart",
            )
        assert response.status_code == 202, response.content
        run_jobs()
        owners = dict(Lead.objects.values_list("nome_completo", "closer_id"))
        assert owners == {"Um": a.pk, "Dois": b.pk, "Tres": a.pk}
        assert LeadAssignment.objects.count() == 3
        assert Notification.objects.get(recipient=a, tipo="lead_assigned").titulo.startswith("2")


@pytest.mark.django_db
class TestApi:
    def body(self, members: list[Membership], **extra: Any) -> dict[str, Any]:
        return {
            "nome": "Tráfego pago",
            "distribuicao": "rodizio",
            "membros": [{"membro_id": str(m.pk), "peso": 1} for m in members],
            "condicao": {"origem": ["Trafego_Pago"], "valor_min": "100.00"},
            **extra,
        }

    def test_managers_create_list_and_change_rules(self, org_a, client_for):
        client = client_for(org_a.gestor)
        response = client.post(RULES, self.body([org_a.closer, org_a.sdr]), format="json")
        assert response.status_code == 201, response.json()
        rule = response.json()
        assert rule["condicao"] == {"origem": ["trafego_pago"], "valor_min": "100.00"}
        assert [m["membro_id"] for m in rule["membros"]] == [
            str(org_a.closer.pk),
            str(org_a.sdr.pk),
        ]
        changed = client.patch(f"{RULES}{rule['id']}/", {"ativo": False}, format="json")
        assert changed.status_code == 200
        assert client.get(RULES).json()["data"][0]["ativo"] is False

    @pytest.mark.parametrize(
        "extra",
        [
            {"distribuicao": "fixo"},
            {"distribuicao": "aleatoria"},
            {"condicao": {"valor_min": "10", "valor_max": "5"}},
            {"membros": []},
            {"capacidade_diaria": 0},
        ],
    )
    def test_bad_rules_are_400_and_write_nothing(self, org_a, client_for, extra):
        body = self.body([org_a.closer, org_a.sdr], **extra)
        response = client_for(org_a.admin).post(RULES, body, format="json")
        assert response.status_code == 400
        assert set(response.json()) == {"error", "details"}
        assert RoutingRule.objects.count() == 0

    def test_members_must_be_sellers_of_the_organization(self, org_a, org_b, client_for):
        client = client_for(org_a.admin)
        for member in (org_a.mentor, org_b.closer):
            response = client.post(RULES, self.body([member]), format="json")
            assert response.status_code == 400
            assert "membros" in response.json()["details"]
        assert RoutingRule.objects.count() == 0

    @pytest.mark.parametrize("role", ["closer", "sdr", "mentor"])
    def test_sellers_and_mentors_may_not_manage_rules(self, org_a, client_for, role):
        client = client_for(org_a.member(role))
        assert client.get(RULES).status_code == 403
        assert client.post(RULES, self.body([org_a.closer]), format="json").status_code == 403

    def test_absences(self, org_a, org_b, client_for):
        client = client_for(org_a.gestor)
        url = f"/api/v1/members/{org_a.closer.pk}/absences/"
        bad = client.post(url, {"inicio": "2026-12-10", "fim": "2026-12-01"}, format="json")
        assert bad.status_code == 400
        created = client.post(url, {"inicio": "2026-12-20", "fim": "2027-01-05"}, format="json")
        assert created.status_code == 201
        assert [a["id"] for a in client.get(url).json()["data"]] == [created.json()["id"]]
        other = client_for(org_b.gestor)
        assert other.get(url).status_code == 404
        assert other.delete(f"{url}{created.json()['id']}/").status_code == 404
        assert client.delete(f"{url}{created.json()['id']}/").status_code == 204
        assert MemberAbsence.objects.count() == 0


@pytest.mark.django_db
class TestAdmin:
    def test_a_manager_creates_a_rule_with_members_in_the_admin(self, org_a, client):
        org_a.gestor.user.is_staff = True
        org_a.gestor.user.save()
        client.force_login(org_a.gestor.user)
        data = {
            "organization": str(org_a.org.pk),
            "nome": "Indicações",
            "ordem": "1",
            "ativo": "on",
            "distribuicao": "rodizio",
            "origens": "Indicacao, evento",
            "tags_condicao": "",
            "valor_min": "",
            "valor_max": "",
            "membros-TOTAL_FORMS": "1",
            "membros-INITIAL_FORMS": "0",
            "membros-MIN_NUM_FORMS": "0",
            "membros-MAX_NUM_FORMS": "1000",
            "membros-0-membership": str(org_a.closer.pk),
            "membros-0-peso": "1",
            "membros-0-posicao": "0",
        }
        response = client.post("/admin/leads/routingrule/add/", data)
        assert response.status_code == 302, response.content.decode()[-3000:]
        rule = RoutingRule.objects.get()
        assert rule.condicao == {"origem": ["evento", "indicacao"]}
        assert list(rule.membros.values_list("membership_id", flat=True)) == [org_a.closer.pk]

    def test_bad_condition_is_a_form_error_and_writes_nothing(self, org_a, client):
        org_a.gestor.user.is_staff = True
        org_a.gestor.user.save()
        client.force_login(org_a.gestor.user)
        data = {
            "organization": str(org_a.org.pk),
            "nome": "X",
            "ordem": "1",
            "distribuicao": "rodizio",
            "valor_min": "10",
            "valor_max": "5",
            "membros-TOTAL_FORMS": "1",
            "membros-INITIAL_FORMS": "0",
            "membros-0-membership": str(org_a.closer.pk),
            "membros-0-peso": "1",
            "membros-0-posicao": "0",
        }
        response = client.post("/admin/leads/routingrule/add/", data)
        assert response.status_code == 200
        assert "valor_min" in response.content.decode()
        assert RoutingRule.objects.count() == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_simultaneous_creates_keep_the_rotation_fair(org_a):
    members = closers(org_a, 3)
    make_rule(org_a, members)
    clients = [api_client(org_a.gestor) for _ in range(9)]

    def post(i: int) -> Any:
        return (
            clients[i]
            .post("/api/v1/leads/", {"nome_completo": f"P{i}"}, format="json")
            .json()["closer_id"]
        )

    owners = run_together(*[lambda i=i: post(i) for i in range(9)])
    assert Counter(owners) == {str(m.pk): 3 for m in members}
    assert RoutingRule.objects.get().cursor == 0
    assert LeadAssignment.objects.count() == 9
