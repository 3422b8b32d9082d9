"""Writes for organizations and members (one transaction each)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify
from django.utils.translation import gettext as _
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from config.errors import ConflictError
from config.jobs import enqueue
from config.locking import lock_row, save_fields
from organizations.models import (
    Membership,
    Organization,
    OrganizationHoliday,
    OrganizationNps,
    OrganizationNpsMonth,
    Role,
    User,
)

logger = logging.getLogger(__name__)


def _unique_slug(nome: str) -> str:
    base = slugify(nome)[:60] or "org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def organization_create(
    *, nome: str, admin_email: str, admin_password: str | None, admin_nome: str = "", **fields: Any
) -> tuple[Organization, Membership]:
    """A new organization with its first admin (creating the user when the email is new)."""
    organization = Organization.objects.create(nome=nome, slug=_unique_slug(nome), **fields)
    membership = member_add(
        organization=organization,
        email=admin_email,
        nome_completo=admin_nome or admin_email.split("@")[0],
        role=Role.ADMIN,
        password=admin_password,
    )
    return organization, membership


@transaction.atomic
def member_add(
    *,
    organization: Organization,
    email: str,
    nome_completo: str,
    role: str,
    password: str | None = None,
    tipo_closer: str = "",
) -> Membership:
    """Adds a user (new or existing, by email) to the organization; 409 if already a member."""
    email = User.objects.normalize_email(email).strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password, nome_completo=nome_completo)
        if password is None:
            user.set_unusable_password()
            user.save(update_fields=["password"])
    existing = Membership.objects.filter(organization=organization, user=user).first()
    if existing is not None:
        raise ConflictError(
            _("Este usuário já é membro da organização."), details={"existing_id": str(existing.id)}
        )
    try:
        with transaction.atomic():
            return Membership.objects.create(
                organization=organization,
                user=user,
                role=role,
                nome_completo=nome_completo,
                tipo_closer=tipo_closer,
            )
    except IntegrityError:  # a concurrent add of the same user won the race
        existing = Membership.objects.get(organization=organization, user=user)
        raise ConflictError(
            _("Este usuário já é membro da organização."), details={"existing_id": str(existing.id)}
        ) from None


@transaction.atomic
def member_update(*, membership: Membership, actor: Membership, **changes: Any) -> Membership:
    """Changes role, display name or active flag; an admin cannot demote or disable themself
    when that would leave the organization without an active admin.

    The row is locked and re-read, and only the given fields are written: a concurrent edit
    never undoes a deactivation (or the other way round)."""
    membership = lock_row(membership)
    losing_admin = membership.role == Role.ADMIN and (
        changes.get("role", Role.ADMIN) != Role.ADMIN or changes.get("ativo", True) is False
    )
    if losing_admin:
        other_admins = (
            Membership.objects.for_org(membership.organization_id)
            .filter(role=Role.ADMIN, ativo=True)
            .exclude(pk=membership.pk)
            .select_for_update()
        )
        if not other_admins.exists():
            raise ConflictError(_("A organização precisa de pelo menos um administrador ativo."))
    deactivating = membership.ativo and changes.get("ativo", True) is False
    for field, value in changes.items():
        setattr(membership, field, value)
    save_fields(membership, changes)
    if deactivating:
        refresh_tokens_revoke(user_id=membership.user_id)
    return membership


def refresh_tokens_revoke(*, user_id: int) -> int:
    """Blacklists every outstanding refresh token of the user (simplejwt's blacklist app).

    A deactivated member must not keep rotating a refresh token: access tokens already issued
    are refused by the membership check on every request, and a new refresh needs a login.
    Tokens are per user, not per organization, so the user's other organizations need a new
    login too.
    """
    outstanding = OutstandingToken.objects.filter(user_id=user_id).exclude(
        blacklistedtoken__isnull=False
    )
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    return len(outstanding)


def member_send_password_link(*, membership: Membership, request: Any) -> bool:
    """Emails the member a link to choose their password (Django's password-reset tokens: one
    use, invalid once the password changes, `PASSWORD_RESET_TIMEOUT`). False when not sent."""
    user = membership.user
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = request.build_absolute_uri(reverse("backoffice-set-password", args=[uid, token]))
    subject = _("Seu acesso a %(org)s") % {"org": membership.organization.nome}
    body = _(
        "Olá, %(nome)s.\n\nVocê foi adicionado(a) a %(org)s. Para criar sua senha, abra o "
        "link abaixo:\n\n%(link)s\n\nDepois, entre em %(login)s com o seu email."
    ) % {
        "nome": membership.nome_completo,
        "org": membership.organization.nome,
        "link": link,
        "login": request.build_absolute_uri(reverse("admin:login")),
    }
    try:
        send_mail(subject, body, None, [user.email])
    except Exception:  # SMTP or provider down: the member exists; the admin is told to retry
        logger.exception("password link email failed", extra={"membership_id": str(membership.pk)})
        return False
    return True


def member_deactivate(*, membership: Membership, actor: Membership) -> Membership:
    """DELETE on a member deactivates it: history (leads, interactions) keeps its author."""
    return member_update(membership=membership, actor=actor, ativo=False)


@transaction.atomic
def organization_update(*, organization: Organization, **changes: Any) -> Organization:
    """Changes settings; a new ticket_alvo re-scores the organization's open leads (the fit
    part of lead_score depends on it) in a background job. Locked and re-read, only the given
    fields written (a concurrent name change never reverts a visibility change)."""
    organization = lock_row(organization)
    previous_ticket = organization.ticket_alvo
    for field, value in changes.items():
        setattr(organization, field, value)
    organization.full_clean()
    save_fields(organization, changes)
    if organization.ticket_alvo != previous_ticket:
        enqueue("leads.jobs.decay_lead_scores", organization_id=str(organization.pk), queue="low")
    return organization


def holiday_add(*, organization: Organization, data: Any, nome: str) -> OrganizationHoliday:
    existing = OrganizationHoliday.objects.filter(organization=organization, data=data).first()
    if existing is not None:
        raise ConflictError(
            _("Já existe um feriado nesta data."), details={"existing_id": existing.pk}
        )
    return OrganizationHoliday.objects.create(organization=organization, data=data, nome=nome)


# --- NPS ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NpsFigure:
    """NPS over a set of feedbacks: the figure and the counts it comes from."""

    nps: int | None
    respostas: int
    promotores: int
    detratores: int


@dataclass(frozen=True)
class NpsSnapshot:
    """What the feedback side computed: the 90-day window and the months it touched."""

    inicio: date
    fim: date
    atual: NpsFigure
    meses: dict[tuple[int, int], NpsFigure]


@transaction.atomic
def organization_nps_update(
    *, organization: Organization, compute: Callable[[], NpsSnapshot]
) -> OrganizationNps:
    """Store the organization's NPS, computing it under a lock on the NPS row.

    `compute` (given by mentorados, which owns feedback) runs after the lock is held, so two
    feedbacks saved at once are counted by whichever stores last: with READ COMMITTED the
    second one's count sees the first one's committed row. Idempotent: it stores a function
    of the data.
    """
    OrganizationNps.objects.bulk_create(
        [OrganizationNps(organization=organization)], ignore_conflicts=True
    )
    row = OrganizationNps.objects.select_for_update().get(organization=organization)
    snapshot = compute()
    now = timezone.now()
    row.nps_atual = snapshot.atual.nps
    row.respostas_90d = snapshot.atual.respostas
    row.promotores_90d = snapshot.atual.promotores
    row.detratores_90d = snapshot.atual.detratores
    row.inicio, row.fim, row.atualizado_em = snapshot.inicio, snapshot.fim, now
    row.save()
    _store_nps_months(organization, snapshot.meses.items(), now)
    return cast("OrganizationNps", row)


def _store_nps_months(
    organization: Organization,
    months: Iterable[tuple[tuple[int, int], NpsFigure]],
    now: Any,
) -> None:
    for (ano, mes), figure in months:
        if figure.respostas == 0:
            OrganizationNpsMonth.objects.filter(
                organization=organization, ano=ano, mes=mes
            ).delete()
            continue
        OrganizationNpsMonth.objects.update_or_create(
            organization=organization,
            ano=ano,
            mes=mes,
            defaults={
                "nps": figure.nps,
                "respostas": figure.respostas,
                "promotores": figure.promotores,
                "detratores": figure.detratores,
                "atualizado_em": now,
            },
        )
