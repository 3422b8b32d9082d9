"""`manage.py seed_demo`: a believable demo organization, created once.

Members of every role come from organizations.demo; each app then adds its part through
`<app>.demo.seed(demo)` (leads, mentees, a follow-up sequence...). Running it again changes
nothing and prints the login. It lives in `config`, the layer that composes the apps, so it
imports each app's demo module directly (the ground floor, `organizations`, imports none).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from followup import demo as followup_demo
from integrations import demo as integrations_demo
from leads import demo as leads_demo
from mentorados import demo as mentorados_demo
from organizations import demo
from organizations.models import Organization

# In order: leads first (mentees come from converted leads; sequences enrol leads).
APPS_WITH_DEMO_DATA: list[tuple[str, Callable[[demo.DemoContext], str]]] = [
    ("leads", leads_demo.seed),
    ("mentorados", mentorados_demo.seed),
    ("followup", followup_demo.seed),
    ("integrations", integrations_demo.seed),
]


class Command(BaseCommand):
    help = "Creates the demo organization (members, leads, mentees, a sequence) once."

    def handle(self, *args: Any, **options: Any) -> None:
        if Organization.objects.filter(slug=demo.DEMO_SLUG).exists():
            self.stdout.write("Demo organization already present.")
        else:
            with transaction.atomic():
                context = demo.seed_organization(rng=random.Random(20261129))
                for app, seed in APPS_WITH_DEMO_DATA:
                    summary = seed(context)
                    if summary:
                        self.stdout.write(f"  {app}: {summary}")
            self.stdout.write(self.style.SUCCESS("Demo organization created."))
        self.stdout.write(
            f"Log in at /admin/ or POST /api/v1/auth/token/ with "
            f"{demo.DEMO_ADMIN_EMAIL} / {demo.DEMO_PASSWORD} "
            f"(other roles: gestor@, closer1@, sdr1@, mentor1@demo.leads.test, same password)."
        )
