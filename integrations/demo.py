"""Demo WhatsApp conversation for `seed_demo`: a few leads wrote in, one got a template back.

The demo account is inactive with placeholder secrets: nothing is ever sent to Meta from a demo.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from integrations.models import MessageDirection, MessageStatus, WhatsAppAccount, WhatsAppMessage
from leads.models import Lead
from organizations.demo import DemoContext

REPLIES = [
    "Oi! Vi o anúncio da mentoria, como funciona?",
    "Tenho interesse, qual o investimento?",
    "Podemos conversar amanhã às 10h?",
    "Obrigado pelo retorno 👍",
]


def seed(context: DemoContext) -> str:
    organization = context.organization
    account = WhatsAppAccount(
        organization=organization,
        phone_number_id=f"demo{organization.pk.hex[:12]}",
        access_token="demo-placeholder-token",  # noqa: S106 - inactive demo account
        app_secret="demo-placeholder-secret",  # noqa: S106
        api_base_url="https://graph.facebook.com/v25.0",
        ativo=False,
    )
    account.set_verify_token("demo-verify-token")
    account.save()

    now = timezone.now()
    leads = list(
        Lead.objects.for_org(organization)
        .exclude(telefone__isnull=True)
        .order_by("-created_at")[: len(REPLIES)]
    )
    rows = []
    for index, lead in enumerate(leads):
        digits = (lead.telefone or "").lstrip("+")
        received = now - timedelta(hours=6 * index + context.rng.randint(1, 5))
        rows.append(
            WhatsAppMessage(
                organization=organization,
                account=account,
                lead=lead,
                direction=MessageDirection.IN,
                wamid=f"wamid.DEMO-IN-{lead.pk.hex}",
                from_phone=digits,
                phone_key=lead.telefone_chave or "",
                body=REPLIES[index],
                status=MessageStatus.RECEIVED,
                received_at=received,
                created_at=received,
            )
        )
        if index % 2 == 0:
            sent = received - timedelta(days=2)
            rows.append(
                WhatsAppMessage(
                    organization=organization,
                    account=account,
                    lead=lead,
                    direction=MessageDirection.OUT,
                    wamid=f"wamid.DEMO-OUT-{lead.pk.hex}",
                    to_phone=digits,
                    phone_key=lead.telefone_chave or "",
                    message_type="template",
                    template_name="boas_vindas",
                    status=MessageStatus.READ,
                    sent_at=sent,
                    delivered_at=sent + timedelta(minutes=1),
                    read_at=sent + timedelta(hours=1),
                    created_at=sent,
                )
            )
    WhatsAppMessage.objects.bulk_create(rows)
    return f"1 WhatsApp account (inactive), {len(rows)} messages"
