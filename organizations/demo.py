"""Demo organization and members for `seed_demo` (shared context for the apps' demo data)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from organizations.models import Membership, Organization, Role, User
from organizations.services import member_add, organization_create

DEMO_SLUG = "mentoria-demo"
DEMO_ADMIN_EMAIL = "admin@demo.leads.test"
DEMO_PASSWORD = "demo-senha-2026"  # noqa: S105 - published demo credentials

MEMBERS = [
    ("gestor@demo.leads.test", "Gabriela Gestora", Role.GESTOR, ""),
    ("closer1@demo.leads.test", "Carlos Closer", Role.CLOSER, "high ticket"),
    ("closer2@demo.leads.test", "Cíntia Souza", Role.CLOSER, "inside sales"),
    ("closer3@demo.leads.test", "Rafael Lima", Role.CLOSER, "high ticket"),
    ("sdr1@demo.leads.test", "Sara SDR", Role.SDR, ""),
    ("sdr2@demo.leads.test", "Diego Andrade", Role.SDR, ""),
    ("mentor1@demo.leads.test", "Marina Mentora", Role.MENTOR, ""),
    ("mentor2@demo.leads.test", "Paulo Henrique", Role.MENTOR, ""),
]


@dataclass
class DemoContext:
    """What the apps' demo seeders build on."""

    organization: Organization
    rng: random.Random
    members: dict[str, list[Membership]] = field(default_factory=dict)

    def by_role(self, role: str) -> list[Membership]:
        return self.members.get(role, [])


def seed_organization(*, rng: random.Random) -> DemoContext:
    organization, admin = organization_create(
        nome="Mentoria Demo",
        admin_email=DEMO_ADMIN_EMAIL,
        admin_password=DEMO_PASSWORD,
        admin_nome="Ana Admin",
        estado="SP",
    )
    Organization.objects.filter(pk=organization.pk).update(slug=DEMO_SLUG)
    organization.slug = DEMO_SLUG
    # Staff access so the demo admin can open /admin/ too.
    User.objects.filter(pk=admin.user_id).update(is_staff=True)
    context = DemoContext(organization=organization, rng=rng, members={Role.ADMIN: [admin]})
    for email, nome, role, tipo_closer in MEMBERS:
        membership = member_add(
            organization=organization,
            email=email,
            nome_completo=nome,
            role=role,
            password=DEMO_PASSWORD,
            tipo_closer=tipo_closer,
        )
        if role == Role.GESTOR:
            User.objects.filter(pk=membership.user_id).update(is_staff=True)
        context.members.setdefault(role, []).append(membership)
    return context
