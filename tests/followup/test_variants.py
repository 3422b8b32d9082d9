"""A/B message variants: assignment, what the engine sends and records, validation."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
from django.core import mail

from followup.engine import dispatch_due
from followup.models import FollowupExecutionLog, FollowupSequence, FollowupStepRun, LogEvent
from followup.selectors import sequence_stats
from followup.variants import choose_variant, step_with_variant
from organizations.models import User
from tests.factories import LeadFactory, MembershipFactory
from tests.followup.factories import (
    EMAIL_STEP,
    TASK_STEP,
    WHATSAPP_STEP,
    make_execution,
    make_sequence,
)

pytestmark = pytest.mark.django_db

VARIANTS = [
    {"id": "a", "mensagem": "Versão A para {{ primeiro_nome }}", "assunto": "Assunto A"},
    {"id": "b", "mensagem": "Versão B para {{ primeiro_nome }}"},
]


# --- assignment (no database) -----------------------------------------------------------------


def _variant(step: dict[str, Any], execution_id: Any, index: int) -> dict[str, Any]:
    """choose_variant for a step that has variants (never None)."""
    chosen = choose_variant(step, execution_id, index)
    assert chosen is not None
    return chosen


def test_the_same_execution_always_gets_the_same_variant():
    step = {**EMAIL_STEP, "variantes": VARIANTS}
    execution_id = uuid.uuid4()
    chosen = {_variant(step, execution_id, 0)["id"] for _ in range(20)}
    assert len(chosen) == 1


def test_variants_split_by_weight():
    step = {
        **EMAIL_STEP,
        "variantes": [{"id": "a", "mensagem": "A", "peso": 3}, {"id": "b", "mensagem": "B"}],
    }
    counts = Counter(_variant(step, uuid.uuid4(), 0)["id"] for _ in range(4000))
    # 3:1 -> about 3000 / 1000; a stable hash spreads like a fair draw.
    assert 2800 < counts["a"] < 3200
    assert counts["a"] + counts["b"] == 4000


def test_a_step_without_variants_is_sent_as_is():
    assert choose_variant(EMAIL_STEP, uuid.uuid4(), 0) is None
    assert step_with_variant(EMAIL_STEP, None) is EMAIL_STEP


def test_a_variant_replaces_only_the_texts_it_has():
    step = {**EMAIL_STEP, "variantes": VARIANTS}
    merged = step_with_variant(step, VARIANTS[1])
    assert merged["mensagem"] == VARIANTS[1]["mensagem"]
    assert merged["assunto"] == EMAIL_STEP["assunto"]
    assert "variantes" not in merged


# --- engine -----------------------------------------------------------------------------------


def test_the_engine_sends_the_chosen_variant_and_records_it(org_a):
    sequence = make_sequence(org_a.org, steps=[{**EMAIL_STEP, "variantes": VARIANTS}])
    executions = [
        make_execution(sequence, LeadFactory(organization=org_a.org, nome_completo="Bia Lima"))
        for _ in range(20)
    ]

    dispatch_due()

    assert len(mail.outbox) == 20
    by_address = {message.to[0]: message for message in mail.outbox}
    seen = set()
    for execution in executions:
        expected = _variant({"variantes": VARIANTS}, execution.pk, 0)["id"]
        run = FollowupStepRun.objects.get(execution=execution, step=0)
        assert run.variant == expected
        log = FollowupExecutionLog.objects.get(execution=execution, evento=LogEvent.EXECUTED)
        assert log.variante == expected
        message = by_address[execution.lead.email or ""]
        assert message.body.startswith(f"Versão {expected.upper()} para Bia")
        assert message.subject == ("Assunto A" if expected == "a" else "Oi Bia")
        seen.add(expected)
    assert seen == {"a", "b"}  # 20 executions: both variants are used (all one: 2e-6)
    stats = sequence_stats(sequence=sequence)
    variants = {v["id"]: v["enviados"] for v in stats["passos"][0]["variantes"]}
    assert sum(variants.values()) == 20


def test_a_whatsapp_step_sends_its_variant(org_a, fake_whatsapp):
    step = {**WHATSAPP_STEP, "variantes": [{"id": "curta", "mensagem": "Oi!"}, VARIANTS[1]]}
    sequence = make_sequence(org_a.org, steps=[step])
    lead = LeadFactory(organization=org_a.org, nome_completo="Caio Lima")
    execution = make_execution(sequence, lead)

    dispatch_due()

    chosen = _variant(step, execution.pk, 0)
    assert [call["text"] for call in fake_whatsapp.calls] == [
        "Oi!" if chosen["id"] == "curta" else "Versão B para Caio"
    ]
    assert FollowupStepRun.objects.get(execution=execution).variant == chosen["id"]


# --- validation: API --------------------------------------------------------------------------


def _create(client, steps):
    return client.post(
        "/api/v1/followup/sequences/",
        {"nome": "AB", "ativo": False, "steps": steps},
        format="json",
    )


def test_the_api_stores_normalized_variants(org_a, client_for):
    step = {
        **EMAIL_STEP,
        "mensagem": "",
        "variantes": [
            {"id": "a", "mensagem": "A", "peso": 2, "assunto": "Outro assunto"},
            {"id": "b", "mensagem": "B"},
        ],
    }
    response = _create(client_for(org_a.gestor), [step])

    assert response.status_code == 201, response.json()
    stored = FollowupSequence.objects.get().steps[0]["variantes"]
    assert stored == [
        {"id": "a", "mensagem": "A", "peso": 2, "assunto": "Outro assunto"},
        {"id": "b", "mensagem": "B", "peso": 1},
    ]


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ({**EMAIL_STEP, "variantes": [{"id": "a", "mensagem": "A"}]}, "Informe de 2 a 5"),
        ({**EMAIL_STEP, "variantes": "a,b"}, "Informe uma lista de variantes."),
        (
            {**EMAIL_STEP, "variantes": [{"id": "a", "mensagem": "A"}] * 2},
            "Ids de variante repetidos: a.",
        ),
        (
            {
                **EMAIL_STEP,
                "variantes": [{"id": "a", "mensagem": ""}, {"id": "b", "mensagem": "B"}],
            },
            "Variante 1: mensagem: Este campo é obrigatório.",
        ),
        (
            {
                **EMAIL_STEP,
                "variantes": [{"id": "A B", "mensagem": "A"}, {"id": "b", "mensagem": "B"}],
            },
            "Variante 1: id: Informe um id",
        ),
        (
            {
                **EMAIL_STEP,
                "variantes": [
                    {"id": "a", "mensagem": "A", "peso": 0},
                    {"id": "b", "mensagem": "B"},
                ],
            },
            "Variante 1: peso: Informe um peso inteiro de 1 a 100.",
        ),
        (
            {
                **WHATSAPP_STEP,
                "variantes": [
                    {"id": "a", "mensagem": "A", "assunto": "x"},
                    {"id": "b", "mensagem": "B"},
                ],
            },
            "Variante 1: assunto: Campo desconhecido.",
        ),
        (
            {
                **EMAIL_STEP,
                "variantes": [{"id": "a", "mensagem": "{{ x"}, {"id": "b", "mensagem": "B"}],
            },
            "Variante 1: mensagem:",
        ),
        (
            {
                **TASK_STEP,
                "variantes": [{"id": "a", "mensagem": "A"}, {"id": "b", "mensagem": "B"}],
            },
            "Variantes só valem para passos de email e WhatsApp.",
        ),
        (
            {**EMAIL_STEP, "variantes": ["a", "b"]},
            "Variante 1: cada variante deve ser um objeto.",
        ),
    ],
)
def test_the_api_refuses_bad_variants_and_writes_nothing(org_a, client_for, step, expected):
    response = _create(client_for(org_a.gestor), [EMAIL_STEP, step])

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "details"}
    problems = body["details"]["steps"]["1"]["variantes"]
    assert any(expected in problem for problem in problems), problems
    assert not FollowupSequence.objects.exists()


# --- validation: admin editor -----------------------------------------------------------------


@pytest.fixture
def staff_client(client, org_a):
    user = User.objects.create_user(email="staff@exemplo.com", password="x", is_staff=True)
    MembershipFactory(organization=org_a.org, user=user, role="admin")
    client.force_login(user)
    return client


def _form(org_a, step):
    data = {
        "organization": str(org_a.org.pk),
        "nome": "AB pelo admin",
        "descricao": "",
        "horario_envio_inicio": "09:00",
        "horario_envio_fim": "18:00",
        "passos-TOTAL_FORMS": "1",
        "passos-INITIAL_FORMS": "0",
        "passos-MIN_NUM_FORMS": "0",
        "passos-MAX_NUM_FORMS": "30",
    }
    data.update({f"passos-0-{key}": str(value) for key, value in step.items()})
    return data


def test_the_admin_editor_refuses_bad_variants_in_portuguese(staff_client, org_a):
    url = "/admin/followup/followupsequence/add/"
    broken = _form(org_a, {**EMAIL_STEP, "variantes": '[{"id": "a", "mensagem": "A"'})
    html = staff_client.post(url, broken).content.decode()
    assert "JSON inválido nas variantes" in html

    one = _form(org_a, {**EMAIL_STEP, "variantes": '[{"id": "a", "mensagem": "A"}]'})
    html = staff_client.post(url, one).content.decode()
    assert "Passo 1: Informe de 2 a 5 variantes." in html
    assert not FollowupSequence.objects.exists()


def test_the_admin_editor_saves_variants_and_shows_them_again(staff_client, org_a):
    url = "/admin/followup/followupsequence/add/"
    text = '[{"id": "a", "mensagem": "Olá A"}, {"id": "b", "mensagem": "Olá B", "peso": 2}]'

    response = staff_client.post(url, _form(org_a, {**EMAIL_STEP, "variantes": text}))

    assert response.status_code == 302, response.content.decode()[:3000]
    sequence = FollowupSequence.objects.get()
    assert [v["id"] for v in sequence.steps[0]["variantes"]] == ["a", "b"]
    html = staff_client.get(f"/admin/followup/followupsequence/{sequence.pk}/change/")
    assert "Olá B" in html.content.decode()
