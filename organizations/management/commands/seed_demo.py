"""`manage.py seed_demo`: a believable demo organization, created once.

Members of every role come from organizations.demo; each app then adds its part through
`<app>.demo.seed(demo)` (leads, mentees, a follow-up sequence...). Running it again changes
nothing and prints the login.
"""

from __future__ import annotations

import importlib
import random
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from organizations import demo
from organizations.models import Organization

APPS_WITH_DEMO_DATA = ["leads", "mentorados", "followup", "integrations"]


class Command(BaseCommand):
    help = "Creates the demo organization (members, leads, mentees, a sequence) once."

    def handle(self, *args: Any, **options: Any) -> None:
        if Organization.objects.filter(slug=demo.DEMO_SLUG).exists():
            self.stdout.write("Demo organization already present.")
        else:
            with transaction.atomic():
                context = demo.seed_organization(rng=random.Random(20261129))
                for app in APPS_WITH_DEMO_DATA:
                    try:
                        module = importlib.import_module(f"{app}.demo")
                    except ModuleNotFoundError as exc:
                        if exc.name != f"{app}.demo":
                            raise
                        continue
                    summary = module.seed(context)
                    if summary:
                        self.stdout.write(f"  {app}: {summary}")
            self.stdout.write(self.style.SUCCESS("Demo organization created."))
        self.stdout.write(
            f"Log in at /admin/ or POST /api/v1/auth/token/ with "
            f"{demo.DEMO_ADMIN_EMAIL} / {demo.DEMO_PASSWORD} "
            f"(other roles: gestor@, closer1@, sdr1@, mentor1@demo.leads.test, same password)."
        )
