from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, Self

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.search import GIN_PENDING_LIST_KB, folded
from organizations.access import lead_visibility_q
from organizations.models import Membership, Organization, OrgManager, OrgQuerySet, member_reference

MONEY: dict[str, Any] = {
    "max_digits": 14,
    "decimal_places": 2,
    "validators": [MinValueValidator(Decimal("0"))],
}


class LeadStatus(models.TextChoices):
    NOVO = "novo", _("Novo")
    EM_CONTATO = "em_contato", _("Em contato")
    QUALIFICADO = "qualificado", _("Qualificado")
    AGENDADO = "agendado", _("Agendado")
    NEGOCIACAO = "negociacao", _("Negociação")
    CONVERTIDO = "convertido", _("Convertido")
    PERDIDO = "perdido", _("Perdido")


PIPELINE_ORDER = [s.value for s in LeadStatus]
CLOSED_STATUSES = frozenset({LeadStatus.CONVERTIDO, LeadStatus.PERDIDO})

# The lead's columns in the one order every listing of a lead uses (the API, the CSV export and
# import, outbound webhooks, the admin form, merges): who the lead is, then where it stands.
LEAD_CONTACT_FIELDS = ("nome_completo", "email", "telefone", "empresa", "cargo", "origem")
LEAD_PIPELINE_FIELDS = ("status", "temperatura", "lead_score", "valor_potencial", "valor_fechado")
LEAD_DATA_FIELDS = (*LEAD_CONTACT_FIELDS, *LEAD_PIPELINE_FIELDS)
# Campaign parameters, as received (API, import, export, routing conditions, merge).
LEAD_UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")


class Temperatura(models.TextChoices):
    FRIO = "frio", _("Frio")
    MORNO = "morno", _("Morno")
    QUENTE = "quente", _("Quente")


class LeadQuerySet(OrgQuerySet):
    def visible_to(self, membership: Membership) -> Self:
        """Closers and SDRs see every lead, or only their own when the organization says so
        (the rule lives in organizations.access, shared with the admin)."""
        return self.filter(lead_visibility_q(membership))

    def open(self) -> Self:
        return self.exclude(status__in=CLOSED_STATUSES)


class Lead(models.Model):
    """A prospective buyer moving through the sales pipeline (table `leads`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="leads", verbose_name=_("organização")
    )
    nome_completo = models.CharField(_("nome completo"), max_length=200)
    email = models.EmailField(_("email"), max_length=254, null=True, blank=True)
    telefone = models.CharField(_("telefone"), max_length=20, null=True, blank=True)
    # Phone digits without Brazil's mobile ninth digit: one indexed key that matches an inbound
    # WhatsApp number whether or not the sender's app includes the ninth digit.
    telefone_chave = models.CharField(max_length=20, null=True, blank=True, editable=False)
    empresa = models.CharField(_("empresa"), max_length=200, blank=True)
    cargo = models.CharField(_("cargo"), max_length=120, blank=True)
    origem = models.CharField(_("origem"), max_length=40, default="outro")
    # Campaign parameters of the page the lead came from (UTM), as received; routing rules
    # may match them.
    utm_source = models.CharField(_("utm_source"), max_length=100, null=True, blank=True)
    utm_medium = models.CharField(_("utm_medium"), max_length=100, null=True, blank=True)
    utm_campaign = models.CharField(_("utm_campaign"), max_length=100, null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=LeadStatus.choices, default=LeadStatus.NOVO
    )
    temperatura = models.CharField(
        _("temperatura"), max_length=10, choices=Temperatura.choices, default=Temperatura.FRIO
    )
    lead_score = models.PositiveSmallIntegerField(
        _("score"), default=0, validators=[MaxValueValidator(100)]
    )
    valor_potencial = models.DecimalField(_("valor potencial"), null=True, blank=True, **MONEY)
    valor_fechado = models.DecimalField(_("valor fechado"), null=True, blank=True, **MONEY)
    closer = models.ForeignKey(
        Membership,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads_as_closer",
        verbose_name=_("closer"),
    )
    sdr = models.ForeignKey(
        Membership,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads_as_sdr",
        verbose_name=_("SDR"),
    )
    motivo_perda = models.TextField(_("motivo da perda"), blank=True)
    observacoes = models.TextField(_("observações"), blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    crm_provider = models.CharField(_("CRM"), max_length=20, blank=True)
    crm_id = models.CharField(_("id no CRM"), max_length=64, blank=True)
    crm_synced_at = models.DateTimeField(_("sincronizado com o CRM em"), null=True, blank=True)
    crm_sync_error = models.TextField(_("erro de sincronização com o CRM"), blank=True)
    opt_out_email = models.BooleanField(_("não quer emails"), default=False)
    opt_out_whatsapp = models.BooleanField(_("não quer WhatsApp"), default=False)
    last_interaction_at = models.DateTimeField(_("última interação"), null=True, blank=True)
    # config.search's folded text of nome_completo, email and empresa, written with the row by
    # a database trigger (leads 0019) on every path (save, bulk writes, update(), raw SQL), so
    # a search compares a plain column. Never set by the code. Nullable so that adding it
    # rewrites no table (PostgreSQL, and SQLite's ADD COLUMN).
    search_fold = models.TextField(null=True, editable=False)
    converted_at = models.DateTimeField(_("convertido em"), null=True, blank=True)
    created_at = models.DateTimeField(_("criado em"), default=timezone.now)
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    objects = models.Manager.from_queryset(LeadQuerySet)()

    class Meta:
        db_table = "leads"
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=Q(email__isnull=False),
                name="lead_unique_email_per_org",
            ),
            models.UniqueConstraint(
                fields=["organization", "telefone"],
                condition=Q(telefone__isnull=False),
                name="lead_unique_phone_per_org",
            ),
            models.CheckConstraint(condition=Q(lead_score__lte=100), name="lead_score_max_100"),
        ]
        indexes = [
            # The daily score decay walks each organization's open leads in id order.
            models.Index(
                fields=["organization", "id"],
                condition=~Q(status__in=["convertido", "perdido"]),
                name="lead_org_open_id",
            ),
            # The leads list (leads/api): one organization-first index per filter and per
            # ordering, each ordering index ending in id (the tie-breaker), so that a page (or a
            # cursor position) is read in index order whatever the direction, and its COUNT is
            # an index-only scan. Chosen from EXPLAIN ANALYZE on a 100,000-lead organization.
            # With the origin and status carried (INCLUDE, PostgreSQL): the painel's leads of
            # a window by origin, converted or not, are counted from the index alone (leads
            # 0029: 171 -> 21 ms at 1,000,000 leads).
            models.Index(
                fields=["organization", "-created_at", "-id"],
                include=["origem", "status"],
                name="lead_org_created_cover",
            ),
            # The filters' indexes, twice: counting a filter's matches reads the plain ones
            # (deduplicated, so far smaller), a filtered page the ones that carry the default
            # order's key (INCLUDE, PostgreSQL), whose ids need no lead's row. Figures in
            # leads 0033.
            models.Index(
                fields=["organization", "status", "temperatura", "lead_score"],
                name="lead_org_status_temp_score",
            ),
            models.Index(
                fields=["organization", "temperatura", "lead_score"], name="lead_org_temp_score"
            ),
            models.Index(
                fields=["organization", "status", "temperatura", "lead_score"],
                include=["created_at", "id"],
                name="lead_org_status_temp_cover",
            ),
            models.Index(
                fields=["organization", "temperatura", "lead_score"],
                include=["created_at", "id"],
                name="lead_org_temp_score_cover",
            ),
            # The pipeline board's columns (leads/admin_board.py): one status, highest score
            # first, 26 cards read in index order (a column sorted all of its status's leads:
            # up to 1.8 s at 1,000,000 leads).
            models.Index(
                fields=["organization", "status", "-lead_score", "-created_at", "-id"],
                name="lead_org_status_score_id",
            ),
            models.Index(fields=["organization", "origem"], name="lead_org_origem"),
            models.Index(fields=["organization", "lead_score", "id"], name="lead_org_score_id"),
            models.Index(
                fields=["organization", "valor_potencial", "id"], name="lead_org_valor_id"
            ),
            models.Index(fields=["organization", "nome_completo", "id"], name="lead_org_nome_id"),
            models.Index(
                fields=["organization", "last_interaction_at", "id"], name="lead_org_last_inter_id"
            ),
            # `search` (config.search): trigram GIN over the stored search_fold (the text it
            # compares, f_unaccent(lower(nome || email || empresa))), and the phone-digits
            # contains, with the organization in the same index (btree_gin). PostgreSQL only.
            GinIndex(
                F("organization"),
                OpClass(F("search_fold"), name="gin_trgm_ops"),
                OpClass(F("telefone"), name="gin_trgm_ops"),
                name="lead_org_search_col",
                gin_pending_list_limit=GIN_PENDING_LIST_KB,
            ),
            # Duplicate candidates: names similar to a lead's own name (leads/merge.py).
            GinIndex(
                F("organization"),
                OpClass(folded("nome_completo"), name="gin_trgm_ops"),
                name="lead_org_name_fold",
                gin_pending_list_limit=GIN_PENDING_LIST_KB,
            ),
            # `tags`: JSON containment (tags @> '["x"]') within the organization.
            GinIndex(
                fields=["organization", "tags"],
                name="lead_org_tags",
                gin_pending_list_limit=GIN_PENDING_LIST_KB,
            ),
            models.Index(fields=["organization", "telefone_chave"], name="lead_org_phone_key"),
            # Sales dashboard: conversions in a window, and one closer's / SDR's cohort.
            models.Index(
                fields=["organization", "converted_at"],
                name="lead_org_converted",
                condition=Q(converted_at__isnull=False),
            ),
            models.Index(
                fields=["organization", "closer", "created_at"], name="lead_org_closer_created"
            ),
            models.Index(fields=["organization", "sdr", "created_at"], name="lead_org_sdr_created"),
            # Delta sync (`updated_since`) of mobile clients.
            models.Index(fields=["organization", "updated_at"], name="lead_org_updated"),
        ]

    def __str__(self) -> str:
        return self.nome_completo

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES


class LeadStatusChange(models.Model):
    """One pipeline move of a lead; drives funnel, cycle-time and time-in-stage figures."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(
        max_length=20, choices=LeadStatus.choices, blank=True, verbose_name=_("status anterior")
    )
    to_status = models.CharField(
        max_length=20, choices=LeadStatus.choices, verbose_name=_("novo status")
    )
    changed_by = member_reference(_("alterado por"))
    changed_at = models.DateTimeField(default=timezone.now, verbose_name=_("alterado em"))
    # Why a manager reopened a converted lead (empty for ordinary moves).
    motivo = models.TextField(_("motivo"), blank=True, default="")
    # The lead's previous move into the same stage (ties by (changed_at, id)), kept by a
    # trigger (migration 0020): the dashboard rollups count a lead once per stage with it.
    prev_same_stage_at = models.DateTimeField(null=True, editable=False)

    objects = OrgManager()

    class Meta:
        db_table = "lead_status_changes"
        verbose_name = _("mudança de status")
        verbose_name_plural = _("mudanças de status")
        ordering = ["-changed_at"]
        indexes = [
            # Moves into given stages in a window, with the lead from the index alone (the
            # sales dashboard's "qualified" count reads them as a semi-join).
            models.Index(
                fields=["organization", "to_status", "changed_at", "lead"],
                name="lsc_org_to_at_lead",
            ),
            models.Index(fields=["lead", "changed_at"], name="lsc_lead_at"),
            # Sales dashboard funnel flow: every move of the organization in a window,
            # answered from the index alone (key columns, as SQLite has no INCLUDE).
            models.Index(
                fields=["organization", "changed_at", "lead", "to_status"], name="lsc_org_at"
            ),
            # ... and the same moves already in (lead, time) order for its window function
            # over long periods (no sort of a year of moves).
            models.Index(
                fields=["organization", "lead", "changed_at", "to_status"],
                name="lsc_org_lead_at",
            ),
            # Re-entries into a stage inside a dashboard window (leads/rollups.py).
            models.Index(
                fields=["organization", "prev_same_stage_at"],
                name="lsc_org_reentry",
                condition=Q(prev_same_stage_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status}"


class TipoInteracao(models.TextChoices):
    LIGACAO = "ligacao", _("Ligação")
    WHATSAPP = "whatsapp", _("WhatsApp")
    EMAIL = "email", _("Email")
    REUNIAO = "reuniao", _("Reunião")
    PRESENCIAL = "presencial", _("Presencial")
    OUTRO = "outro", _("Outro")


class Resultado(models.TextChoices):
    CONTATO_REALIZADO = "contato_realizado", _("Contato realizado")
    SEM_RESPOSTA = "sem_resposta", _("Sem resposta")
    AGENDAMENTO = "agendamento", _("Agendamento")
    PROPOSTA_ENVIADA = "proposta_enviada", _("Proposta enviada")
    FOLLOW_UP = "follow_up", _("Follow-up")
    FECHAMENTO_POSITIVO = "fechamento_positivo", _("Fechamento positivo")
    FECHAMENTO_NEGATIVO = "fechamento_negativo", _("Fechamento negativo")


class LeadInteraction(models.Model):
    """A contact with a lead (call, message, meeting) and its outcome."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="interactions")
    closer = models.ForeignKey(
        Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="interactions"
    )
    tipo_interacao = models.CharField(
        _("tipo"), max_length=20, choices=TipoInteracao.choices, default=TipoInteracao.OUTRO
    )
    resumo = models.CharField(_("resumo"), max_length=500, blank=True)
    detalhes_completos = models.TextField(_("detalhes"), blank=True)
    resultado = models.CharField(
        _("resultado"), max_length=30, choices=Resultado.choices, blank=True
    )
    valor = models.DecimalField(_("valor"), null=True, blank=True, **MONEY)
    data_interacao = models.DateTimeField(_("data da interação"), default=timezone.now)
    duracao_minutos = models.PositiveIntegerField(
        _("duração (min)"), null=True, blank=True, validators=[MaxValueValidator(24 * 60)]
    )
    proximo_passo = models.CharField(_("próximo passo"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("criada em"), default=timezone.now)
    updated_at = models.DateTimeField(_("atualizada em"), auto_now=True)

    objects = OrgManager()

    class Meta:
        db_table = "lead_interactions"
        verbose_name = _("interação")
        verbose_name_plural = _("interações")
        ordering = ["-data_interacao"]
        indexes = [
            # Score recalculation reads a lead's contacts (not sem_resposta) by date and result
            # from the index alone (index-only scans in the daily decay of every open lead).
            models.Index(
                fields=["lead", "data_interacao", "resultado"],
                condition=~Q(resultado="sem_resposta"),
                name="interaction_lead_contact",
            ),
            models.Index(fields=["lead", "-data_interacao"], name="interaction_lead_date"),
            models.Index(fields=["organization", "data_interacao"], name="interaction_org_date"),
            # Delta sync (`updated_since`) of mobile clients.
            models.Index(fields=["organization", "updated_at"], name="interaction_org_updated"),
            # Sales dashboard: interactions in a window counted per author, from the index alone.
            models.Index(
                fields=["organization", "data_interacao", "closer"],
                name="interaction_org_date_closer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_tipo_interacao_display()} {self.data_interacao:%d/%m/%Y}"


class AuthorityNivel(models.TextChoices):
    DECISOR = "decisor", _("Decisor")
    INFLUENCIADOR = "influenciador", _("Influenciador")
    USUARIO = "usuario", _("Usuário")
    DESCONHECIDO = "desconhecido", _("Desconhecido")


class PrazoDecisao(models.TextChoices):
    IMEDIATO = "imediato", _("Imediato (até 30 dias)")
    CURTO = "curto", _("Curto (até 90 dias)")
    MEDIO = "medio", _("Médio (até 180 dias)")
    LONGO = "longo", _("Longo")
    INDEFINIDO = "indefinido", _("Indefinido")


class LeadQualification(models.Model):
    """BANT details of a lead (one per lead) and the qualification score they give."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, related_name="qualification")
    budget_confirmado = models.BooleanField(_("orçamento confirmado"), default=False)
    valor_orcamento = models.DecimalField(_("valor do orçamento"), null=True, blank=True, **MONEY)
    authority_nivel = models.CharField(
        _("autoridade"),
        max_length=20,
        choices=AuthorityNivel.choices,
        default=AuthorityNivel.DESCONHECIDO,
    )
    necessidade_identificada = models.BooleanField(_("necessidade identificada"), default=False)
    dor_principal = models.TextField(_("dor principal"), blank=True)
    prazo_decisao = models.CharField(
        _("prazo de decisão"),
        max_length=20,
        choices=PrazoDecisao.choices,
        default=PrazoDecisao.INDEFINIDO,
    )
    qualification_score = models.PositiveSmallIntegerField(_("score de qualificação"), default=0)
    updated_at = models.DateTimeField(_("atualizada em"), auto_now=True)

    objects = OrgManager()

    class Meta:
        db_table = "lead_qualification_details"
        verbose_name = _("qualificação")
        verbose_name_plural = _("qualificações")

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.qualification_score}"


class TaskTipo(models.TextChoices):
    LIGACAO = "ligacao", _("Ligação")
    TAREFA = "tarefa", _("Tarefa")


class TaskStatus(models.TextChoices):
    PENDENTE = "pendente", _("Pendente")
    CONCLUIDA = "concluida", _("Concluída")
    CANCELADA = "cancelada", _("Cancelada")


class TaskOrigem(models.TextChoices):
    MANUAL = "manual", _("Manual")
    FOLLOWUP = "followup", _("Follow-up")


class Task(models.Model):
    """A to-do for a member (call a lead, send a proposal), manual or created by a follow-up."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, null=True, blank=True, related_name="tasks"
    )
    responsavel = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("responsável")
    )
    tipo = models.CharField(_("tipo"), max_length=10, choices=TaskTipo.choices, default="tarefa")
    titulo = models.CharField(_("título"), max_length=200)
    descricao = models.TextField(_("descrição"), blank=True)
    vencimento = models.DateTimeField(_("vencimento"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.PENDENTE
    )
    origem = models.CharField(
        _("origem"), max_length=10, choices=TaskOrigem.choices, default=TaskOrigem.MANUAL
    )
    # Set by automated creators (follow-up steps) so that a retried job creates the task once.
    origem_ref = models.CharField(
        max_length=120, null=True, blank=True, unique=True, editable=False
    )
    concluida_em = models.DateTimeField(_("concluída em"), null=True, blank=True)
    created_by = member_reference(_("criado por"))
    created_at = models.DateTimeField(_("criada em"), default=timezone.now)
    updated_at = models.DateTimeField(_("atualizada em"), auto_now=True)

    objects = OrgManager()

    class Meta:
        db_table = "tarefas"
        verbose_name = _("tarefa")
        verbose_name_plural = _("tarefas")
        ordering = ["vencimento", "created_at"]
        indexes = [
            models.Index(
                fields=["organization", "responsavel", "status", "vencimento"],
                name="task_org_resp_status_due",
            ),
            models.Index(fields=["status", "vencimento"], name="task_status_due"),
            # Delta sync (`updated_since`) of mobile clients.
            models.Index(fields=["organization", "updated_at"], name="task_org_updated"),
        ]

    def __str__(self) -> str:
        return self.titulo


class LeadImportStatus(models.TextChoices):
    # Uploaded in the admin's wizard, columns not confirmed yet: no job runs it.
    DRAFT = "draft", _("Rascunho")
    PENDING = "pending", _("Pendente")
    RUNNING = "running", _("Em processamento")
    DONE = "done", _("Concluída")
    FAILED = "failed", _("Falhou")


class LeadImport(models.Model):
    """A CSV file of leads uploaded for import, and the progress of the job importing it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    created_by = member_reference(_("criado por"))
    filename = models.CharField(_("arquivo"), max_length=255, blank=True)
    # The decoded CSV text: the job reads it from here, so any worker host can run it.
    content = models.TextField(_("conteúdo"), editable=False)
    delimiter = models.CharField(_("separador"), max_length=1, default=",")
    # Per column of the file, the lead field it fills ("" = left out), as confirmed.
    column_mapping = models.JSONField(_("mapeamento de colunas"), default=list, blank=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=LeadImportStatus.choices,
        default=LeadImportStatus.PENDING,
    )
    total_rows = models.PositiveIntegerField(_("linhas"), default=0)
    # Resume point: rows before it are fully accounted for (committed with their leads).
    processed_rows = models.PositiveIntegerField(_("linhas processadas"), default=0)
    created_count = models.PositiveIntegerField(_("leads criados"), default=0)
    duplicates_skipped = models.PositiveIntegerField(_("duplicados ignorados"), default=0)
    invalid_rows = models.PositiveIntegerField(_("linhas inválidas"), default=0)
    errors = models.JSONField(_("erros por linha"), default=list, blank=True)
    error_message = models.TextField(_("erro"), blank=True)
    created_at = models.DateTimeField(_("criada em"), default=timezone.now)
    started_at = models.DateTimeField(_("iniciada em"), null=True, blank=True)
    finished_at = models.DateTimeField(_("concluída em"), null=True, blank=True)

    objects = OrgManager()

    class Meta:
        db_table = "lead_imports"
        verbose_name = _("importação de leads")
        verbose_name_plural = _("importações de leads")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="lead_import_org_created"),
        ]

    def __str__(self) -> str:
        return f"{self.filename or self.pk} ({self.get_status_display()})"


# --- routing ----------------------------------------------------------------------------------


class Distribuicao(models.TextChoices):
    RODIZIO = "rodizio", _("Rodízio")
    PONDERADA = "ponderada", _("Ponderada por peso")
    FIXO = "fixo", _("Membro fixo")


class RoutingRule(models.Model):
    """An ordered rule that gives new unowned leads matching its condition to its members."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="routing_rules",
        verbose_name=_("organização"),
    )
    nome = models.CharField(_("nome"), max_length=120)
    ordem = models.PositiveIntegerField(_("ordem"), default=0)
    ativo = models.BooleanField(_("ativa"), default=True)
    # {origem: [], tags: [], valor_min, valor_max}; an empty condition matches every lead.
    condicao = models.JSONField(_("condição"), default=dict, blank=True)
    distribuicao = models.CharField(
        _("distribuição"), max_length=10, choices=Distribuicao.choices, default=Distribuicao.RODIZIO
    )
    capacidade_diaria = models.PositiveIntegerField(
        _("capacidade diária por membro"), null=True, blank=True
    )
    # Round-robin position: the index of the member who gets the next lead (under a row lock).
    cursor = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(_("criada em"), default=timezone.now)
    updated_at = models.DateTimeField(_("atualizada em"), auto_now=True)

    objects = OrgManager()

    class Meta:
        db_table = "lead_routing_rules"
        verbose_name = _("regra de distribuição")
        verbose_name_plural = _("regras de distribuição")
        ordering = ["ordem", "created_at"]

    def __str__(self) -> str:
        return self.nome


class RoutingRuleMember(models.Model):
    """A member taking part in a routing rule, in the rule's fixed order, with a weight."""

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="membros")
    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="+", verbose_name=_("membro")
    )
    peso = models.PositiveSmallIntegerField(_("peso"), default=1)
    posicao = models.PositiveSmallIntegerField(_("posição"), default=0)
    # Smooth weighted round-robin state (nginx's algorithm), for `ponderada`.
    peso_atual = models.IntegerField(default=0, editable=False)

    class Meta:
        db_table = "lead_routing_rule_members"
        verbose_name = _("membro da regra")
        verbose_name_plural = _("membros da regra")
        ordering = ["posicao", "id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "membership"], name="routing_member_unique")
        ]

    def __str__(self) -> str:
        return str(self.membership_id)


class LeadAssignment(models.Model):
    """A lead given to a member by a routing rule, or left without one (no eligible member)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="assignments")
    membership = member_reference(_("membro"))
    rule = models.ForeignKey(
        RoutingRule, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("regra")
    )
    campo = models.CharField(_("campo"), max_length=10, blank=True)  # "closer" or "sdr"
    motivo = models.CharField(_("motivo"), max_length=300)
    at = models.DateTimeField(_("em"), default=timezone.now)

    objects = OrgManager()

    class Meta:
        db_table = "lead_assignments"
        verbose_name = _("atribuição automática")
        verbose_name_plural = _("atribuições automáticas")
        ordering = ["-at"]
        indexes = [
            models.Index(fields=["membership", "at"], name="lead_assignment_member_day"),
            models.Index(fields=["lead", "at"], name="lead_assignment_lead"),
        ]

    def __str__(self) -> str:
        return self.motivo


# --- consent (LGPD) ---------------------------------------------------------------------------


class ConsentCanal(models.TextChoices):
    EMAIL = "email", _("Email")
    WHATSAPP = "whatsapp", _("WhatsApp")


class ConsentEstado(models.TextChoices):
    CONCEDIDO = "concedido", _("Concedido")
    REVOGADO = "revogado", _("Revogado")


class BaseLegal(models.TextChoices):
    CONSENTIMENTO = "consentimento", _("Consentimento")
    LEGITIMO_INTERESSE = "legitimo_interesse", _("Legítimo interesse")
    EXECUCAO_CONTRATO = "execucao_contrato", _("Execução de contrato")


class ConsentRecord(models.Model):
    """One entry of a lead's consent ledger for a channel: append-only, the latest one rules.

    Lives in leads (not privacy) so that followup's sends, below privacy, can read it; the
    lead's opt_out_email / opt_out_whatsapp are kept equal to the latest entry (see
    leads.consent) so every existing query and send check reads the ledger's state.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="consents")
    canal = models.CharField(_("canal"), max_length=10, choices=ConsentCanal.choices)
    estado = models.CharField(_("estado"), max_length=10, choices=ConsentEstado.choices)
    base_legal = models.CharField(_("base legal"), max_length=20, choices=BaseLegal.choices)
    # Where it came from: descadastro (unsubscribe page), whatsapp (a STOP word), api, admin,
    # importacao, lead (the lead's opt-out flag changed through the lead itself).
    origem = models.CharField(_("origem"), max_length=30)
    at = models.DateTimeField(_("em"), default=timezone.now)
    evidencia = models.JSONField(_("evidência"), default=dict, blank=True)
    actor = member_reference(_("autor"))
    created_at = models.DateTimeField(_("registrado em"), default=timezone.now, editable=False)

    objects = OrgManager()

    class Meta:
        db_table = "lead_consents"
        verbose_name = _("registro de consentimento")
        verbose_name_plural = _("registros de consentimento")
        ordering = ["-at", "-created_at"]
        indexes = [models.Index(fields=["lead", "canal", "-at"], name="consent_lead_canal_at")]

    def __str__(self) -> str:
        return f"{self.canal}: {self.estado} ({self.base_legal})"


class LeadMerge(models.Model):
    """Two leads merged into one: who, when, both ids, the choices and the values dropped."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    # Plain ids, not foreign keys: the record outlives both rows.
    target_id = models.UUIDField(_("lead mantido"), db_index=True)
    merged_lead_id = models.UUIDField(_("lead mesclado (excluído)"), db_index=True)
    merged_by = member_reference(_("mesclado por"))
    campos = models.JSONField(_("escolhas"), default=dict)
    valores_descartados = models.JSONField(_("valores descartados"), default=dict)
    valores_do_outro = models.JSONField(_("valores do lead mesclado"), default=dict)
    at = models.DateTimeField(_("em"), default=timezone.now)

    objects = OrgManager()

    class Meta:
        db_table = "lead_merges"
        verbose_name = _("mesclagem de leads")
        verbose_name_plural = _("mesclagens de leads")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.merged_lead_id} → {self.target_id}"


class LeadCount(models.Model):
    """The number of leads per organization, kept by database triggers (issue "Scale", 2).

    The unfiltered lead list's `total` reads it instead of counting a million rows. Triggers on
    `leads` (leads/migrations/0017_lead_counts.py) add and subtract in the writing transaction,
    so the figure is exact for every path (API, import, bulk, merge, cascade). Each organization
    has up to `SHARDS` rows, one per writing backend modulo SHARDS, so concurrent creates do not
    queue on one row; the total is their sum. Not a foreign key: an organization's rows are
    removed by a trigger after the organization itself (its leads go first).
    """

    SHARDS = 8

    organization_id = models.UUIDField()
    shard = models.SmallIntegerField(default=0)
    total = models.BigIntegerField(default=0)

    class Meta:
        db_table = "lead_counts"
        constraints = [
            models.UniqueConstraint(fields=["organization_id", "shard"], name="lead_count_shard")
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}/{self.shard}: {self.total}"


class LeadSearchRow(models.Model):
    """A narrow copy of each lead's searched text, kept by database triggers (issue "Scale", 2).

    A search-only list of a whole organization counts its matches here instead of in `leads`:
    a common term ("silva") matches a few percent of every page, and a trigram match is always
    rechecked against the row, so the count reads every page of the organization either way.
    These rows are about half as wide as a lead, so half the pages (bench/README.md, docs/
    scaling.md). Triggers on `leads` (leads/migrations/0025_lead_search_rows.py) insert, update
    and delete a row with its lead's in the same transaction, on every path (API, import, bulk
    writes, update(), raw SQL, merge, cascade): the count is exact. `search_fold` and `telefone`
    carry the names of the lead's columns so that `config.search.search_condition` applies to
    both tables unchanged. Not foreign keys, like `LeadCount`: the triggers own the rows.
    """

    lead_id = models.UUIDField(primary_key=True)
    organization_id = models.UUIDField()
    search_fold = models.TextField(null=True)
    telefone = models.CharField(max_length=20, null=True)

    class Meta:
        db_table = "lead_search_rows"
        indexes = [
            # The same organization-first trigram index as the leads' lead_org_search_col.
            GinIndex(
                F("organization_id"),
                OpClass(F("search_fold"), name="gin_trgm_ops"),
                OpClass(F("telefone"), name="gin_trgm_ops"),
                name="lead_search_rows_trgm",
                gin_pending_list_limit=GIN_PENDING_LIST_KB,
            ),
        ]

    def __str__(self) -> str:
        return str(self.lead_id)


class LeadTagCount(models.Model):
    """How many leads of an organization carry each tag, kept by database triggers.

    The admin's tag filter lists an organization's tags from here instead of expanding the
    `tags` of every lead (`SELECT DISTINCT jsonb_array_elements_text(tags)`: ~440 ms at a
    million leads). Triggers on `leads` (leads/migrations/0026_lead_tag_counts.py) add and
    subtract in the writing transaction, so the figures are exact for every path (API, import,
    bulk writes, update(), raw SQL, merge, cascade): a lead counts once per tag it carries (a
    tag repeated in its array once), string elements of an array only (any other `tags` value
    counts nothing, and never fails a write). Like `LeadCount`, each (organization, tag) has up
    to `SHARDS` rows, one per writing backend modulo SHARDS, so concurrent writes do not queue
    on one row; the count is their sum, and a tag no lead carries any more sums to 0 (its rows
    stay). Not a foreign key: an organization's rows are removed by a trigger after the
    organization itself. PostgreSQL only (SQLite's `make run` scans the leads instead).
    """

    SHARDS = 8

    organization_id = models.UUIDField()
    tag = models.TextField()
    shard = models.SmallIntegerField(default=0)
    total = models.BigIntegerField(default=0)

    class Meta:
        db_table = "lead_tag_counts"
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id", "tag", "shard"], name="lead_tag_count_shard"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}/{self.tag}/{self.shard}: {self.total}"


class LeadStatusTotal(models.Model):
    """How many leads of an organization are in each status, and their summed valor_potencial,
    kept by database triggers.

    The pipeline board's column headers (leads.admin_board.column_totals) read an organization's
    totals from here when the board shows its whole lead table, instead of grouping every lead
    of the organization by status (~270 ms at a million leads). Triggers on `leads`
    (leads/migrations/0028_lead_status_totals.py) add and subtract in the writing transaction,
    so the figures are exact for every path (API, import, bulk writes, update(), raw SQL, merge,
    cascade): `leads` is +1/-1 per lead, `valor` +/- its valor_potencial (a lead without one
    adds 0). Like `LeadTagCount`, each (organization, status) has up to `SHARDS` rows, one per
    writing backend modulo SHARDS, so concurrent writes do not queue on one row; the totals are
    their sums, and a status no lead is in any more sums to 0 leads (its rows stay, the reader
    skips them). Not a foreign key: an organization's rows are removed by a trigger after the
    organization itself. PostgreSQL only (SQLite's `make run` groups the leads instead).
    """

    SHARDS = 8

    organization_id = models.UUIDField()
    status = models.CharField(max_length=20)
    shard = models.SmallIntegerField(default=0)
    leads = models.BigIntegerField(default=0)
    valor = models.DecimalField(max_digits=20, decimal_places=2, default=0)

    class Meta:
        db_table = "lead_status_totals"
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id", "status", "shard"], name="lead_status_total_shard"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}/{self.status}/{self.shard}: {self.leads}, {self.valor}"


class LeadOriginDay(models.Model):
    """Per organization, UTC day of creation and origin: how many leads were created and how
    many of those are now convertido, kept by database triggers.

    The painel's origin breakdown (leads.dashboard_selectors.origem_breakdown) reads the
    window's clean full days from here and only its two partial edge days from the leads,
    instead of every lead created in the window (~100-160 ms for a year at a million leads).
    Triggers on `leads` (leads/migrations/0031_lead_origin_days.py) add and subtract in the
    writing transaction, like `LeadStatusTotal`: exact for every path, `SHARDS` rows per key
    (one per writing backend modulo SHARDS), a key no lead is in any more sums to 0 (its rows
    stay, the reader skips them). Not a foreign key: removed by a trigger after the
    organization. PostgreSQL only (SQLite's `make run` groups the leads instead).
    """

    SHARDS = 8

    organization_id = models.UUIDField()
    day = models.DateField()
    origem = models.CharField(max_length=40)
    shard = models.SmallIntegerField(default=0)
    leads = models.BigIntegerField(default=0)
    convertidos = models.BigIntegerField(default=0)

    class Meta:
        db_table = "lead_origin_days"
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id", "day", "origem", "shard"], name="lead_origin_day_shard"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}/{self.day}/{self.origem}/{self.shard}: {self.leads}"


# --- sales dashboard rollups (leads/rollups.py) ---------------------------------------------

# Stages with a next stage on the forward path (advancement and time in stage apply to them).
FLOW_STAGES = [s for s in PIPELINE_ORDER if s not in CLOSED_STATUSES]
# The forward path of the pipeline; `perdido` leaves it, so it is never "the next stage".
FORWARD_STAGES = [s for s in PIPELINE_ORDER if s != LeadStatus.PERDIDO]
# A stage's number: its place on the forward path (1-6), `perdido` 0 (never "further along").
STAGE_NUMBER = {stage: FORWARD_STAGES.index(stage) + 1 for stage in FORWARD_STAGES}
STAGE_NUMBER[LeadStatus.PERDIDO.value] = 0
# Stages that count as "qualified or further along" (perdido is not further along).
QUALIFIED_OR_BEYOND = (
    LeadStatus.QUALIFICADO.value,
    LeadStatus.AGENDADO.value,
    LeadStatus.NEGOCIACAO.value,
    LeadStatus.CONVERTIDO.value,
)
# Stage and temperature names are inlined as SQL literals by the dashboard queries
# (leads/dashboard_selectors.py, leads/rollups.py): they must never need quoting.
if not all(name.replace("_", "").isalpha() for name in (*PIPELINE_ORDER, *Temperatura.values)):
    raise RuntimeError("stage and temperature names must be plain words")
# The measures of a daily rollup row, by the date that files a fact under a day: the lead's
# creation (cohort), its conversion, a move (funnel flow) and an interaction.
ROLLUP_COUNTS = (
    "created",
    *(f"status_{stage}" for stage in PIPELINE_ORDER),
    *(f"temperatura_{t}" for t in Temperatura.values),
    "qualified",
    "score_sum",
    "converted",
    "valor_count",
    *(f"entered_{stage}" for stage in PIPELINE_ORDER),
    *(f"advanced_{stage}" for stage in FLOW_STAGES),
    *(f"ended_{stage}" for stage in FLOW_STAGES),
    "interactions",
)
ROLLUP_SUMS = (
    "valor_sum",
    "cycle_seconds",
    *(f"stay_seconds_{stage}" for stage in FLOW_STAGES),
)
ROLLUP_MEASURES = (*ROLLUP_COUNTS, *ROLLUP_SUMS)
# The back office's dashboard periods (days). The rollups keep hour rows for the days their
# windows start on (leads/rollups.py), so that a window's partial first day costs at most one
# hour of raw rows.
PRESET_PERIOD_DAYS = (7, 30, 90, 180, 365)
# The grain of an hour row is the daily grain plus this (month rows: + 10, week rows: + 20);
# a row of grain ROLLUP_HOURS_BUILT says a day's hour rows are built (leads/rollups.py).
ROLLUP_HOUR_GRAINS = 30
ROLLUP_HOURS_BUILT = ROLLUP_HOUR_GRAINS + 9


class RollupGrain(models.IntegerChoices):
    """Whose figures a rollup row holds (the columns it is keyed by besides the day)."""

    ORGANIZATION = 0, "organization"
    CLOSER = 1, "closer"  # leads by their current closer
    SDR = 2, "sdr"  # leads by their current SDR
    CLOSER_SDR = 3, "closer+sdr"  # an SDR's leads by closer (the SDR's topClosers)
    AUTHOR = 4, "author"  # interactions by the member who logged them
    AUTHOR_SDR = 5, "author+sdr"  # ... on the leads of an SDR


class LeadDailyRollup(models.Model):
    """The sales dashboard's figures of one UTC day, one grain and one member (or pair).

    Rows are replaced whole (delete + insert) by leads/rollups.py, from the raw rows: by the
    `leads-rollups` job for the days marked dirty (LeadRollupMark), by `manage.py
    rollups_backfill` for all days. Not a foreign key: removed by a trigger with the
    organization. The measure columns (ROLLUP_MEASURES) are added below the class.
    """

    organization_id = models.UUIDField()
    day = models.DateField()
    grain = models.SmallIntegerField(choices=RollupGrain.choices)
    closer_id = models.UUIDField(null=True)
    sdr_id = models.UUIDField(null=True)
    author_id = models.UUIDField(null=True)
    # The UTC hour (0-23) of an hour row (leads/rollups.py HOUR); null on the other rows.
    hour = models.SmallIntegerField(null=True)

    class Meta:
        db_table = "lead_daily_rollups"
        indexes = [
            # The days whose hour rows are built (one row per organization and day): the job
            # finds those no longer a start day without scanning the hour rows.
            models.Index(
                fields=["day"],
                name="ldr_hours_built_day",
                condition=models.Q(grain=ROLLUP_HOURS_BUILT),
            ),
            # A window's rows of a grain; with the measures that rank the closers, so that
            # hundreds of members' rows are read from the index alone (leads/rollups.py). The
            # hour is a key: an edge day's hours before or after a moment are a range of the
            # index, not all 24 hours' rows read and filtered (leads 0032).
            models.Index(
                fields=["organization_id", "grain", "day", "hour"],
                include=[
                    "closer_id",
                    "sdr_id",
                    "author_id",
                    "created",
                    "converted",
                    "valor_sum",
                    "interactions",
                ],
                name="ldr_members_hour_cover",
            ),
            models.Index(fields=["organization_id", "day"], name="ldr_org_day"),
            # One member's rows: an SDR's (SDR, closer+SDR, author+SDR grains), a closer's
            # (closer grain, author_id null) and an author's (author grain, closer_id null).
            models.Index(
                fields=["organization_id", "grain", "sdr_id", "day"], name="ldr_org_grain_sdr"
            ),
            models.Index(
                fields=["organization_id", "grain", "closer_id", "author_id", "day"],
                name="ldr_org_grain_member",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day} grain {self.grain}"


for _measure in ROLLUP_COUNTS:
    LeadDailyRollup.add_to_class(_measure, models.BigIntegerField(default=0))
for _measure in ROLLUP_SUMS:
    LeadDailyRollup.add_to_class(
        _measure, models.DecimalField(max_digits=24, decimal_places=6, default=Decimal(0))
    )


class LeadRollupMark(models.Model):
    """A day whose rollups a write has made stale (append-only; written by the triggers of
    migrations 0020 and 0024 in the writing transaction, deleted by the job once it recomputed
    them), with the UTC hour of the fact (NULL: the whole day) for the days with hour rows."""

    organization_id = models.UUIDField()
    day = models.DateField()
    hour = models.SmallIntegerField(null=True)
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "lead_rollup_marks"
        indexes = [models.Index(fields=["organization_id", "day"], name="lrm_org_day")]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day}"
