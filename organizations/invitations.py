"""Invitations: adding a user who already has an account needs their consent.

`POST /api/v1/members/` (and the admin's "add member") with the email of an existing account
does not create a membership: it creates a pending `Invitation` and emails the person a link
(`/convites/<token>/`). The membership is created only when the invited user accepts, either
on that page (with their password) or with `POST /api/v1/invitations/accept/ {"token"}` while
authenticated as that user. The token is random (`secrets.token_urlsafe`), stored as its
SHA-256, single use and valid for `INVITATION_LIFETIME`. An email that has no account yet is
still created directly by the admin, as before (organizations.services.member_add).
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import ConflictError, NotFound
from config.tokens import token_digest
from organizations.models import Invitation, Membership, Organization, User

logger = logging.getLogger(__name__)

INVITATION_LIFETIME = timedelta(days=7)


def invitation_link(token: str) -> str:
    base: str = settings.PUBLIC_BASE_URL
    return base.rstrip("/") + reverse("invitation-accept", args=[token])


@transaction.atomic
def invitation_create(
    *,
    organization: Organization,
    actor: Membership | None,
    user: User,
    nome_completo: str,
    role: str,
    tipo_closer: str = "",
) -> tuple[Invitation, str]:
    """A pending invitation for an existing user (a previous pending one is replaced, so the
    admin can resend); 409 when they are a member already. Returns it with the link's token."""
    existing = Membership.objects.filter(organization=organization, user=user).first()
    if existing is not None:
        raise ConflictError(
            _("Este usuário já é membro da organização."), details={"existing_id": str(existing.id)}
        )
    email = user.email.lower()
    Invitation.objects.filter(
        organization=organization, email__iexact=email, accepted_at__isnull=True
    ).delete()
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        nome_completo=nome_completo,
        role=role,
        tipo_closer=tipo_closer,
        invited_by=actor,
        token_hash=token_digest(token),
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )
    return invitation, token


def member_add_or_invite(
    *,
    organization: Organization,
    actor: Membership | None,
    email: str,
    nome_completo: str,
    role: str,
    password: str | None = None,
    tipo_closer: str = "",
) -> Membership | Invitation:
    """What the API's and the admin's "add member" do: a new email becomes a member at once
    (organizations.services.member_add); an existing account gets an invitation, emailed once
    the transaction commits."""
    from organizations.services import member_add

    email = User.objects.normalize_email(email).strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        return member_add(
            organization=organization,
            email=email,
            nome_completo=nome_completo,
            role=role,
            password=password,
            tipo_closer=tipo_closer,
        )
    invitation, token = invitation_create(
        organization=organization,
        actor=actor,
        user=user,
        nome_completo=nome_completo,
        role=role,
        tipo_closer=tipo_closer,
    )
    transaction.on_commit(lambda: invitation_send(invitation=invitation, token=token), robust=True)
    return invitation


def invitation_send(*, invitation: Invitation, token: str) -> bool:
    """Emails the invitation's link; False when the email could not be sent."""
    organization = invitation.organization
    subject = _("Convite para %(org)s") % {"org": organization.nome}
    body = _(
        "Olá.\n\nVocê foi convidado(a) para participar de %(org)s como %(role)s. Para aceitar, "
        "abra o link abaixo e confirme com a sua senha (válido por 7 dias):\n\n%(link)s\n\n"
        "Se não esperava este convite, ignore este email."
    ) % {
        "org": organization.nome,
        "role": invitation.get_role_display(),
        "link": invitation_link(token),
    }
    try:
        send_mail(subject, body, None, [invitation.email])
    except Exception:  # SMTP or provider down: the invitation exists; the admin can resend
        logger.exception("invitation email failed", extra={"invitation_id": str(invitation.pk)})
        return False
    return True


def pending_invitation(token: str) -> Invitation | None:
    """The pending, unexpired invitation of this link's token."""
    if not token or len(token) > 200:
        return None
    return (
        Invitation.objects.select_related("organization")
        .filter(
            token_hash=token_digest(token), accepted_at__isnull=True, expires_at__gt=timezone.now()
        )
        .first()
    )


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Invitation:
    """The invited user accepts: the membership is created. An unknown, used or expired token,
    or one addressed to another user, is a 404."""
    pending = pending_invitation(token)
    if pending is None or pending.email.lower() != user.email.lower():
        raise NotFound(_("Convite não encontrado ou expirado."))
    invitation: Invitation = Invitation.objects.select_for_update().get(pk=pending.pk)
    if invitation.accepted_at is not None:
        raise NotFound(_("Convite não encontrado ou expirado."))
    membership = Membership.objects.filter(organization=invitation.organization, user=user).first()
    if membership is None:
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    organization=invitation.organization,
                    user=user,
                    role=invitation.role,
                    nome_completo=invitation.nome_completo or user.nome_completo,
                    tipo_closer=invitation.tipo_closer,
                )
        except IntegrityError:  # accepted twice at once
            membership = Membership.objects.get(organization=invitation.organization, user=user)
    invitation.accepted_at = timezone.now()
    invitation.membership = membership
    invitation.save(update_fields=["accepted_at", "membership"])
    return invitation


@transaction.atomic
def invitation_cancel(*, invitation: Invitation) -> None:
    """A pending invitation is withdrawn (its link stops working); an accepted one is kept."""
    if invitation.accepted_at is not None:
        raise ConflictError(_("Este convite já foi aceito."))
    invitation.delete()
