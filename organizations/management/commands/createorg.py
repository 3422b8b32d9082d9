"""`manage.py createorg --nome NAME --admin-email EMAIL --admin-password PW`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from config.errors import ConflictError
from organizations.services import organization_create


class Command(BaseCommand):
    help = "Creates an organization with its first admin and prints the organization's id."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--nome", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-password", required=True)
        parser.add_argument("--admin-nome", default="")
        parser.add_argument("--estado", default="", help="UF for state holidays, e.g. SP")
        parser.add_argument("--timezone", default="America/Sao_Paulo")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            validate_password(options["admin_password"])
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        try:
            organization, _membership = organization_create(
                nome=options["nome"],
                admin_email=options["admin_email"],
                admin_password=options["admin_password"],
                admin_nome=options["admin_nome"],
                estado=options["estado"].upper(),
                timezone=options["timezone"],
            )
        except ConflictError as exc:
            raise CommandError(str(exc.message)) from exc
        self.stdout.write(str(organization.pk))
