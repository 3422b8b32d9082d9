from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from leads.models import Lead
from organizations.models import Membership, Organization

pytestmark = pytest.mark.django_db


def test_it_creates_an_organization_with_its_admin_and_prints_the_id():
    out = io.StringIO()
    call_command(
        "createorg",
        "--nome",
        "Mentoria X",
        "--admin-email",
        "Dona@X.com",
        "--admin-password",
        "senha-muito-boa-1",
        stdout=out,
    )
    org = Organization.objects.get(pk=out.getvalue().strip())
    membership = Membership.objects.get(organization=org)
    assert membership.role == "admin"
    assert membership.user.email == "dona@x.com"
    assert membership.user.check_password("senha-muito-boa-1")


def test_it_refuses_a_weak_password():
    with pytest.raises(CommandError):
        call_command(
            "createorg", "--nome", "X", "--admin-email", "a@b.com", "--admin-password", "123"
        )
    assert not Organization.objects.exists()


def test_it_seeds_the_demo_once():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    org = Organization.objects.get(slug="mentoria-demo")
    roles = set(Membership.objects.filter(organization=org).values_list("role", flat=True))
    assert roles == {"admin", "gestor", "closer", "sdr", "mentor"}
    leads = Lead.objects.filter(organization=org)
    assert leads.count() >= 200
    assert set(leads.values_list("status", flat=True)) >= {"novo", "convertido", "perdido"}
    assert "admin@demo.leads.test" in out.getvalue()
    call_command("seed_demo", stdout=io.StringIO())
    assert Organization.objects.filter(slug="mentoria-demo").count() == 1
    assert Lead.objects.filter(organization=org).count() == leads.count()
