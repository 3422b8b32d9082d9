from __future__ import annotations

import uuid
import zoneinfo
from decimal import Decimal
from typing import Any, Self

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

UF_CHOICES = [
    (uf, uf)
    for uf in (
        [
            "AC",
            "AL",
            "AM",
            "AP",
            "BA",
            "CE",
            "DF",
            "ES",
            "GO",
            "MA",
            "MG",
            "MS",
            "MT",
            "PA",
            "PB",
            "PE",
            "PI",
            "PR",
            "RJ",
            "RN",
            "RO",
            "RR",
            "RS",
            "SC",
            "SE",
            "SP",
            "TO",
        ]
    )
]


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            _("Fuso horário desconhecido: %(tz)s."), params={"tz": value}
        ) from exc


class OrgQuerySet(models.QuerySet[Any]):
    """Every organization-owned queryset offers `for_org`: the one place scoping is applied."""

    def for_org(self, organization: Organization | uuid.UUID | str) -> Self:
        return self.filter(organization=organization)


OrgManager = models.Manager.from_queryset(OrgQuerySet)


class Organization(models.Model):
    """A tenant: a sales-and-mentoring business with its own members, leads and settings."""

    class LeadVisibility(models.TextChoices):
        TODOS = "todos", _("Todos os leads da organização")
        ATRIBUIDOS = "atribuidos", _("Somente leads atribuídos")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    nome = models.CharField(_("nome"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    timezone = models.CharField(
        _("fuso horário"),
        max_length=64,
        default="America/Sao_Paulo",
        validators=[validate_timezone],
    )
    estado = models.CharField(_("estado (UF)"), max_length=2, choices=UF_CHOICES, blank=True)
    ticket_alvo = models.DecimalField(
        _("ticket alvo"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("10000.00"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    visibilidade_leads = models.CharField(
        _("visibilidade dos leads"),
        max_length=20,
        choices=LeadVisibility.choices,
        default=LeadVisibility.TODOS,
    )
    created_at = models.DateTimeField(_("criada em"), default=now)

    class Meta:
        db_table = "organizations"
        verbose_name = _("organização")
        verbose_name_plural = _("organizações")
        ordering = ["nome"]

    def __str__(self) -> str:
        return self.nome


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with an email; belongs to organizations through Membership."""

    email = models.EmailField(_("email"), max_length=254, unique=True)
    nome_completo = models.CharField(_("nome completo"), max_length=200, blank=True)
    is_staff = models.BooleanField(_("acesso ao admin"), default=False)
    is_active = models.BooleanField(_("ativo"), default=True)
    date_joined = models.DateTimeField(_("cadastrado em"), default=now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["nome_completo"]

    class Meta:
        verbose_name = _("usuário")
        verbose_name_plural = _("usuários")
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrador")
    GESTOR = "gestor", _("Gestor")
    CLOSER = "closer", _("Closer")
    SDR = "sdr", _("SDR")
    MENTOR = "mentor", _("Mentor")


MANAGER_ROLES = frozenset({Role.ADMIN, Role.GESTOR})
SELLER_ROLES = frozenset({Role.CLOSER, Role.SDR})
_ROLE_LABELS: dict[str, Any] = dict(Role.choices)


class Membership(models.Model):
    """A user's role inside one organization (table `organization_users`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("organização"),
    )
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("usuário")
    )
    role = models.CharField(_("papel"), max_length=20, choices=Role.choices)
    nome_completo = models.CharField(_("nome de exibição"), max_length=200)
    tipo_closer = models.CharField(_("tipo de closer"), max_length=50, blank=True)
    ativo = models.BooleanField(_("ativo"), default=True)
    created_at = models.DateTimeField(_("criado em"), default=now)

    objects = OrgManager()

    class Meta:
        db_table = "organization_users"
        verbose_name = _("membro")
        verbose_name_plural = _("membros")
        ordering = ["nome_completo"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique")
        ]

    def __str__(self) -> str:
        # The label by lookup: get_role_display() rebuilds a dict of the field's choices at
        # every call, and a list page names ~40 members.
        return f"{self.nome_completo} ({_ROLE_LABELS.get(self.role, self.role)})"

    @property
    def is_manager(self) -> bool:
        return self.role in MANAGER_ROLES

    @property
    def is_seller(self) -> bool:
        return self.role in SELLER_ROLES


def member_reference(verbose_name: Any) -> models.ForeignKey[Membership | None, Membership | None]:
    """The member who did something to a row (created, changed, merged it); the row stays, with
    NULL here, when the member goes."""
    return models.ForeignKey(
        Membership,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=verbose_name,
    )


def organization_reference(**options: Any) -> models.ForeignKey[Organization, Organization]:
    """The organization that owns a row (no reverse accessor; deleted with the organization)."""
    return models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("organização"),
        **options,
    )


class OrganizationHoliday(models.Model):
    """A company or municipal day off, on top of national and state holidays."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="holidays",
        verbose_name=_("organização"),
    )
    data = models.DateField(_("data"))
    nome = models.CharField(_("nome"), max_length=120)

    objects = OrgManager()

    class Meta:
        db_table = "organization_holidays"
        verbose_name = _("feriado da organização")
        verbose_name_plural = _("feriados da organização")
        ordering = ["data"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "data"], name="org_holiday_unique")
        ]

    def __str__(self) -> str:
        return f"{self.data:%d/%m/%Y} {self.nome}"


class MemberAbsence(models.Model):
    """A member away (vacation, leave): lead routing skips them from inicio to fim, inclusive."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="ausencias", verbose_name=_("membro")
    )
    inicio = models.DateField(_("início"))
    fim = models.DateField(_("fim"))
    motivo = models.CharField(_("motivo"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("criada em"), default=now)

    objects = OrgManager()

    class Meta:
        db_table = "member_absences"
        verbose_name = _("ausência de membro")
        verbose_name_plural = _("ausências de membros")
        ordering = ["-inicio"]
        constraints = [
            models.CheckConstraint(
                condition=Q(fim__gte=F("inicio")), name="absence_fim_after_inicio"
            )
        ]

    def __str__(self) -> str:
        return f"{self.inicio:%d/%m/%Y}–{self.fim:%d/%m/%Y}"


class NotificationTipo(models.TextChoices):
    LEAD_CONVERTED = "lead_converted", _("Lead convertido")
    LEAD_RESPONDED = "lead_responded", _("Lead respondeu")
    LOW_SATISFACTION = "low_satisfaction", _("Satisfação baixa")
    FOLLOWUP_FAILED = "followup_failed", _("Falha no follow-up")
    FOLLOWUP_NOTHING_SENT = "followup_nothing_sent", _("Follow-up concluído sem envio")
    TASK_DUE = "task_due", _("Tarefa vencida")
    LEAD_ASSIGNED = "lead_assigned", _("Lead atribuído")
    WEBHOOK_DISABLED = "webhook_disabled", _("Webhook desativado")


class Notification(models.Model):
    """A message to one member (a lead converted, a reply arrived, a task is overdue...)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    recipient = models.ForeignKey(
        Membership,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("destinatário"),
    )
    tipo = models.CharField(_("tipo"), max_length=30, choices=NotificationTipo.choices)
    titulo = models.CharField(_("título"), max_length=200)
    payload = models.JSONField(_("dados"), default=dict, blank=True)
    # Set by jobs that may run twice (task_due, followup_failed): one notification per
    # (recipient, key) whatever the number of runs.
    chave = models.CharField(max_length=150, null=True, blank=True, editable=False)
    read_at = models.DateTimeField(_("lida em"), null=True, blank=True)
    created_at = models.DateTimeField(_("criada em"), default=now)
    updated_at = models.DateTimeField(_("atualizada em"), auto_now=True)
    # Follow-on work done (or found unnecessary): set by the push job and the email digest so
    # that a job run twice, or a sweep after a lost job, does not repeat it.
    pushed_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("enviada por push em")
    )
    digested_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("incluída no resumo em")
    )
    # Why the last push failed (a device refused permanently, the job failed or its worker
    # died); cleared when a push completes without failures.
    push_error = models.TextField(
        null=True, blank=True, editable=False, verbose_name=_("erro do push")
    )

    objects = OrgManager()

    class Meta:
        db_table = "notifications"
        verbose_name = _("notificação")
        verbose_name_plural = _("notificações")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "chave"],
                condition=Q(chave__isnull=False),
                name="notification_unique_key_per_recipient",
            )
        ]
        indexes = [
            models.Index(
                fields=["recipient", "read_at", "-created_at"], name="notif_recipient_unread"
            ),
            # Delta sync (`updated_since`) of mobile clients.
            models.Index(
                fields=["organization", "recipient", "updated_at"], name="notif_org_recipient_upd"
            ),
        ]

    def __str__(self) -> str:
        return self.titulo


class OrganizationNps(models.Model):
    """The organization's current NPS (last 90 days), kept by mentorados' feedback service.

    Stored here, not computed on read, so the organization API and the painel need no
    mentee query; organizations does not import mentorados (mentorados writes it).
    """

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="nps"
    )
    nps_atual = models.IntegerField(_("NPS atual"), null=True, blank=True)
    respostas_90d = models.PositiveIntegerField(_("respostas (90 dias)"), default=0)
    promotores_90d = models.PositiveIntegerField(_("promotores (90 dias)"), default=0)
    detratores_90d = models.PositiveIntegerField(_("detratores (90 dias)"), default=0)
    # The window's first and last day (organization time zone) of the stored figure.
    inicio = models.DateField(_("início da janela"), null=True, blank=True)
    fim = models.DateField(_("fim da janela"), null=True, blank=True)
    atualizado_em = models.DateTimeField(_("atualizado em"), default=now)

    objects = OrgManager()

    class Meta:
        db_table = "organization_nps"
        verbose_name = _("NPS da organização")
        verbose_name_plural = _("NPS da organização")

    def __str__(self) -> str:
        return f"NPS {self.nps_atual}"


class OrganizationNpsMonth(models.Model):
    """The organization's NPS over the feedbacks dated in one calendar month."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="nps_months"
    )
    ano = models.PositiveSmallIntegerField(_("ano"))
    mes = models.PositiveSmallIntegerField(_("mês"))
    nps = models.IntegerField(_("NPS"), null=True, blank=True)
    respostas = models.PositiveIntegerField(_("respostas"), default=0)
    promotores = models.PositiveIntegerField(_("promotores"), default=0)
    detratores = models.PositiveIntegerField(_("detratores"), default=0)
    atualizado_em = models.DateTimeField(_("atualizado em"), default=now)

    objects = OrgManager()

    class Meta:
        db_table = "organization_nps_months"
        verbose_name = _("NPS mensal")
        verbose_name_plural = _("NPS mensal")
        ordering = ["ano", "mes"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "ano", "mes"], name="org_nps_month_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.mes:02d}/{self.ano} NPS {self.nps}"


class DeletionTipo(models.TextChoices):
    LEAD = "lead", _("Lead")
    INTERACTION = "interaction", _("Interação")
    TASK = "task", _("Tarefa")
    MENTORADO = "mentorado", _("Mentorado")


class Deletion(models.Model):
    """A tombstone: a synced row deleted at a moment, so offline clients can drop their copy."""

    id = models.BigAutoField(primary_key=True)
    # No database constraint and no cascade: tombstones are written from post_delete, which
    # also fires while an organization itself is being deleted (its rows go first); those
    # orphans are harmless and age out with the rest (organizations.sync.deletions_prune).
    organization = models.ForeignKey(
        Organization, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    tipo = models.CharField(_("tipo"), max_length=20, choices=DeletionTipo.choices)
    object_id = models.UUIDField(_("id"))
    deleted_at = models.DateTimeField(_("apagado em"), default=now)

    objects = OrgManager()

    class Meta:
        db_table = "sync_deletions"
        verbose_name = _("exclusão")
        verbose_name_plural = _("exclusões")
        ordering = ["deleted_at", "id"]
        indexes = [
            models.Index(fields=["organization", "deleted_at"], name="deletion_org_deleted_at"),
        ]

    def __str__(self) -> str:
        return f"{self.tipo} {self.object_id}"


class DevicePlatform(models.TextChoices):
    ANDROID = "android", _("Android")
    IOS = "ios", _("iOS")
    WEB = "web", _("Web")


class Device(models.Model):
    """A member's app installation, reached by push through its FCM registration token."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="devices", verbose_name=_("membro")
    )
    plataforma = models.CharField(_("plataforma"), max_length=10, choices=DevicePlatform.choices)
    # FCM registration tokens are opaque (about 160-200 characters today); one row per token:
    # a phone that changes hands (logout, login as someone else) moves to the new member.
    token = models.CharField(_("token"), max_length=4096, unique=True)
    app_versao = models.CharField(_("versão do app"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("registrado em"), default=now)
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    objects = OrgManager()

    class Meta:
        db_table = "devices"
        verbose_name = _("dispositivo")
        verbose_name_plural = _("dispositivos")
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["organization", "membership"], name="device_org_member")]

    def __str__(self) -> str:
        return f"{self.get_plataforma_display()} {self.token[:12]}..."


class NotificationPreference(models.Model):
    """How a member wants one kind of notification: push, daily email digest, in the app."""

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    tipo = models.CharField(_("tipo"), max_length=30, choices=NotificationTipo.choices)
    push = models.BooleanField(_("push"), default=True)
    email = models.BooleanField(_("email"), default=False)
    in_app = models.BooleanField(_("no app"), default=True)

    objects = OrgManager()

    class Meta:
        db_table = "notification_preferences"
        verbose_name = _("preferência de notificação")
        verbose_name_plural = _("preferências de notificação")
        constraints = [
            models.UniqueConstraint(fields=["membership", "tipo"], name="notif_pref_once_per_tipo")
        ]

    def __str__(self) -> str:
        return f"{self.membership_id} {self.tipo}"


class Invitation(models.Model):
    """An existing user invited into an organization: the membership exists only once they
    accept (organizations/invitations.py). New users are still created directly by an admin."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="invitations",
        verbose_name=_("organização"),
    )
    email = models.EmailField(_("email"))
    nome_completo = models.CharField(_("nome completo"), max_length=150, blank=True)
    role = models.CharField(_("papel"), max_length=20, choices=Role.choices)
    tipo_closer = models.CharField(_("tipo de closer"), max_length=50, blank=True)
    invited_by = models.ForeignKey(
        Membership,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("convidado por"),
    )
    # Only the SHA-256 of the link's token is stored (the token is in the email only).
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("criado em"), default=now)
    expires_at = models.DateTimeField(_("expira em"))
    accepted_at = models.DateTimeField(_("aceito em"), null=True, blank=True)
    membership = models.ForeignKey(
        Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = OrgManager()

    class Meta:
        db_table = "organization_invitations"
        verbose_name = _("convite")
        verbose_name_plural = _("convites")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                "organization",
                condition=Q(accepted_at__isnull=True),
                name="invitation_one_pending_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} -> {self.organization_id}"
