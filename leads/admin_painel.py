"""The lead list filter behind the painel's numbers: `?painel=<set>&painel_inicio=...` shows
exactly the leads a painel figure counts, with the dashboard's own definitions
(`leads.dashboard_selectors.cohort_q` and friends), so a number and the list it links to
always agree.

Parameters: `painel` (the set), `painel_valor` (a status, temperature or origem for the sets
that take one), `painel_inicio` / `painel_fim` (the window, ISO 8601), `painel_org` and
optionally `painel_closer` / `painel_sdr` (the scope). The admin's own organization scoping
still applies: another organization's id in the link gives an empty list.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads import dashboard_selectors
from leads.models import LeadStatus, Temperatura

PARAMS = (
    "painel",
    "painel_valor",
    "painel_inicio",
    "painel_fim",
    "painel_org",
    "painel_closer",
    "painel_sdr",
)

SETS: dict[str, tuple[Any, Callable[[dashboard_selectors.DashboardScope, str], Q]]] = {
    "coorte": (
        gettext_lazy("leads criados no período"),
        lambda s, v: dashboard_selectors.cohort_q(s),
    ),
    "qualificados": (
        gettext_lazy("leads criados no período que chegaram a qualificado"),
        lambda s, v: dashboard_selectors.qualified_q(s),
    ),
    "convertidos": (
        gettext_lazy("leads convertidos no período"),
        lambda s, v: dashboard_selectors.converted_q(s),
    ),
    "temperatura": (
        gettext_lazy("leads criados no período com esta temperatura"),
        lambda s, v: dashboard_selectors.cohort_q(s) & Q(temperatura=v),
    ),
    "etapa": (
        gettext_lazy("leads criados no período nesta etapa"),
        lambda s, v: dashboard_selectors.cohort_q(s) & Q(status=v),
    ),
    "entraram": (
        gettext_lazy("leads que entraram na etapa no período"),
        lambda s, v: dashboard_selectors.entered_q(s, v),
    ),
    "origem": (
        gettext_lazy("leads criados no período com esta origem"),
        lambda s, v: dashboard_selectors.cohort_q(s) & Q(origem=v),
    ),
}
VALUES: dict[str, list[str]] = {
    "temperatura": list(Temperatura.values),
    "etapa": list(LeadStatus.values),
    "entraram": list(LeadStatus.values),
}


def painel_link(
    scope: dashboard_selectors.DashboardScope,
    kind: str,
    value: str = "",
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> str:
    """The lead list URL for a painel figure (optionally over a sub-window, e.g. one week)."""
    params = {
        "painel": kind,
        "painel_inicio": (start or scope.start).isoformat(),
        "painel_fim": (end or scope.end).isoformat(),
        "painel_org": str(scope.organization_id),
    }
    if value:
        params["painel_valor"] = value
    if scope.closer_id:
        params["painel_closer"] = str(scope.closer_id)
    if scope.sdr_id:
        params["painel_sdr"] = str(scope.sdr_id)
    return reverse("admin:leads_lead_changelist") + "?" + urlencode(params)


class PainelSetFilter(admin.SimpleListFilter):
    """Invisible until a painel link uses it; then it names the set being shown."""

    title = gettext_lazy("painel")
    parameter_name = "painel"

    def __init__(
        self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any
    ) -> None:
        extras = {}
        for name in PARAMS[1:]:
            if name in params:
                value = params.pop(name)
                extras[name] = value[-1] if isinstance(value, list) else value
        super().__init__(request, params, model, model_admin)
        self.used_parameters.update(extras)
        # The set's label names its value, known only now.
        self.lookup_choices = list(self.lookups(request, model_admin))

    def expected_parameters(self) -> list[str | None]:
        return list(PARAMS)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, Any]]:
        kind = self.value()
        if kind not in SETS:
            return []
        label = str(SETS[kind][0])
        value = self.used_parameters.get("painel_valor", "")
        if value:
            label = f"{label}: {value}"
        return [(kind, label)]

    def choices(self, changelist: Any) -> Any:
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=list(PARAMS)),
            "display": _("Todos"),
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string(),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        kind = self.value()
        if kind is None:
            return queryset
        if kind not in SETS:
            raise IncorrectLookupParameters(_("Conjunto do painel desconhecido."))
        scope = self._scope()
        value = self.used_parameters.get("painel_valor", "")
        allowed = VALUES.get(kind)
        if allowed is not None and value not in allowed:
            raise IncorrectLookupParameters(_("Valor do painel inválido."))
        return queryset.filter(SETS[kind][1](scope, value))

    def _scope(self) -> dashboard_selectors.DashboardScope:
        def moment(name: str) -> datetime:
            parsed = parse_datetime(self.used_parameters.get(name, "") or "")
            if parsed is None:
                raise IncorrectLookupParameters(_("Período do painel inválido."))
            if timezone.is_naive(parsed):
                parsed = timezone.make_aware(parsed)
            return parsed

        def member(name: str) -> uuid.UUID | None:
            raw = self.used_parameters.get(name)
            if not raw:
                return None
            try:
                return uuid.UUID(raw)
            except ValueError:
                raise IncorrectLookupParameters(_("Membro do painel inválido.")) from None

        organization = member("painel_org")
        if organization is None:
            raise IncorrectLookupParameters(_("Organização do painel ausente."))
        start, end = moment("painel_inicio"), moment("painel_fim")
        return dashboard_selectors.DashboardScope(
            organization_id=organization,
            start=start,
            end=end,
            period_days=max((end - start).days, 1),
            closer_id=member("painel_closer"),
            sdr_id=member("painel_sdr"),
        )


# Origem is stored as a code (lowercase, no accents: API validation); people read these.
ORIGEM_LABELS = {
    "indicacao": gettext_lazy("Indicação"),
    "instagram": "Instagram",
    "facebook": "Facebook",
    "linkedin": "LinkedIn",
    "google": "Google",
    "site": gettext_lazy("Site"),
    "whatsapp": "WhatsApp",
    "evento": gettext_lazy("Evento"),
    "email": gettext_lazy("Email"),
    "importacao": gettext_lazy("Importação"),
    "organico": gettext_lazy("Orgânico"),
    "trafego_pago": gettext_lazy("Tráfego pago"),
    "anuncio": gettext_lazy("Anúncio"),
    "outro": gettext_lazy("Outro"),
}


def origem_label(code: str) -> str:
    """A readable name for an origem code (known ones translated, others de-underscored)."""
    known = ORIGEM_LABELS.get(code)
    if known is not None:
        return str(known)
    text = code.replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else "—"
