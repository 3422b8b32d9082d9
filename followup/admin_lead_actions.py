"""The lead list's "enrol in a sequence" bulk action (followup may import leads; leads may not
import followup, so the action is added to the lead admin from here).

It calls `services.followup_enroll_leads`, the service behind
`POST /api/v1/followup/sequences/{id}/enroll/`, with the same roles (admin and gestor) and
reports the leads it skipped with the service's reason.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.errors import ConflictError
from followup import services
from followup.models import FollowupSequence
from leads.admin_actions import ActorResolver, BulkReport, Skip, form_step, submitted
from leads.models import Lead
from organizations.permissions import MANAGERS

SKIP_REASONS = {
    services.SkipReason.ALREADY_ENROLLED: gettext_lazy("já está nesta sequência"),
    services.SkipReason.LEAD_CLOSED: gettext_lazy("lead convertido ou perdido"),
    services.SkipReason.OPTED_OUT: gettext_lazy("não aceita os canais da sequência"),
}


class SequenceForm(forms.Form):
    sequence = forms.ModelChoiceField(
        queryset=FollowupSequence.objects.none(),
        label=gettext_lazy("Sequência"),
        error_messages={
            "required": gettext_lazy("Escolha uma sequência."),
            "invalid_choice": gettext_lazy("Escolha uma sequência ativa desta organização."),
        },
    )

    def __init__(self, *args: Any, leads: QuerySet[Lead], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        organizations = leads.order_by().values("organization_id").distinct()
        field: Any = self.fields["sequence"]
        field.queryset = FollowupSequence.objects.filter(
            organization_id__in=organizations, ativo=True
        ).order_by("nome", "pk")


@admin.action(description=gettext_lazy("Inscrever em sequência de follow-up"))
def enrol_in_sequence(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Lead]
) -> HttpResponse | None:
    form = SequenceForm(request.POST if submitted(request) else None, leads=queryset)
    if not (submitted(request) and form.is_valid()):
        return form_step(
            modeladmin,
            request,
            queryset,
            form,
            title=_("Inscrever em sequência"),
            intro=_("Os critérios da sequência não se aplicam: a escolha é sua."),
        )
    sequence: FollowupSequence = form.cleaned_data["sequence"]
    resolver = ActorResolver(request)
    report = BulkReport()
    leads = list(queryset.order_by("nome_completo", "pk"))
    names = {str(lead.pk): lead.nome_completo for lead in leads}
    accepted = []
    for lead in leads:
        try:
            if lead.organization_id != sequence.organization_id:
                raise Skip(_("a sequência é de outra organização"))
            resolver.check(lead, MANAGERS)
            accepted.append(lead)
        except Skip as exc:
            report.refused.append((lead.nome_completo, str(exc)))
    if accepted:
        actor = resolver.actor(sequence.organization_id)
        try:
            result = services.followup_enroll_leads(sequence=sequence, leads=accepted, actor=actor)
        except ConflictError as exc:
            for lead in accepted:
                report.refused.append((lead.nome_completo, str(exc.message)))
        else:
            report.changed = len(result.enrolled)
            skipped: dict[str, list[str]] = defaultdict(list)
            for item in result.skipped:
                skipped[item["lead_id"]].append(
                    str(SKIP_REASONS.get(item["reason"], item["reason"]))
                )
            for lead_id, reasons in skipped.items():
                report.refused.append((names[lead_id], ", ".join(reasons)))
    report.send(modeladmin, request, _("inscrito(s) em %(nome)s") % {"nome": sequence.nome})
    return None


def install() -> None:
    """Adds the action to the registered lead admin (called from followup/admin.py)."""
    lead_admin = admin.site.get_model_admin(Lead)
    actions = list(lead_admin.actions or [])
    if enrol_in_sequence not in actions:
        lead_admin.actions = [*actions, enrol_in_sequence]
