"""The sequence editor of the admin: one row per step and a criteria form instead of JSON.

Both feed `followup.validation` (the API's rules and messages); an error names the step by its
number as users see it (from 1) and lands on the field it is about. Nothing is saved while any
row or criterion is invalid.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from followup.models import FollowupSequence, TipoAcao
from followup.validation import (
    OPEN_STATUSES,
    SequenceDataInvalid,
    normalize_criteria,
    normalize_steps,
    validate_window,
)
from leads.models import LeadStatus, Temperatura

PLACEHOLDER_HELP = _(
    "Você pode usar {{ primeiro_nome }}, {{ nome_completo }}, {{ empresa }} e {{ closer_nome }}."
)
STEP_TEXT_FIELDS = ("assunto", "mensagem", "template_name", "titulo", "descricao")


class StepForm(forms.Form):
    """One step; the fields a kind does not use are ignored (as the API drops them)."""

    tipo_acao = forms.ChoiceField(
        label=_("tipo"),
        choices=[("", "---------"), *TipoAcao.choices],
        required=False,
        widget=UnfoldAdminSelectWidget,
    )
    delay_dias = forms.IntegerField(
        label=_("dias depois"), required=False, min_value=0, widget=UnfoldAdminIntegerFieldWidget
    )
    delay_horas = forms.IntegerField(
        label=_("horas depois"), required=False, min_value=0, widget=UnfoldAdminIntegerFieldWidget
    )
    assunto = forms.CharField(
        label=_("assunto (email)"), required=False, widget=UnfoldAdminTextInputWidget
    )
    mensagem = forms.CharField(
        label=_("mensagem (email, WhatsApp)"),
        required=False,
        strip=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text=PLACEHOLDER_HELP,
    )
    template_name = forms.CharField(  # type: ignore[assignment]  # a step field, not a template
        label=_("template do WhatsApp"), required=False, widget=UnfoldAdminTextInputWidget
    )
    titulo = forms.CharField(
        label=_("título (ligação, tarefa)"), required=False, widget=UnfoldAdminTextInputWidget
    )
    descricao = forms.CharField(
        label=_("descrição (ligação, tarefa)"),
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
    )
    variantes = forms.CharField(
        label=_("variantes A/B (email, WhatsApp)"),
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text=_(
            'Opcional, em JSON: [{"id": "a", "mensagem": "...", "peso": 1}, {"id": "b", '
            '"mensagem": "..."}]. Cada lead recebe sempre a mesma variante; "assunto" também '
            "pode variar no email."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        variants = self.initial.get("variantes")
        if isinstance(variants, list):
            self.initial["variantes"] = json.dumps(variants, ensure_ascii=False, indent=1)

    def clean_variantes(self) -> Any:
        text = (self.cleaned_data.get("variantes") or "").strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise forms.ValidationError(
                _("JSON inválido nas variantes: confira aspas, vírgulas e colchetes.")
            ) from None

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {}) or {}
        return not any(data.get(name) not in (None, "") for name in self.base_fields)

    def as_step(self) -> dict[str, Any]:
        data = self.cleaned_data
        step: dict[str, Any] = {
            "tipo_acao": data.get("tipo_acao") or None,
            "delay_dias": data.get("delay_dias") or 0,
            "delay_horas": data.get("delay_horas") or 0,
        }
        for name in STEP_TEXT_FIELDS:
            if data.get(name):
                step[name] = data[name]
        if data.get("variantes") is not None:
            step["variantes"] = data["variantes"]
        return step


class BaseStepFormSet(forms.BaseFormSet[StepForm]):
    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {"use_required_attribute": False}


StepFormSet = forms.formset_factory(
    StepForm, formset=BaseStepFormSet, extra=1, can_delete=True, max_num=30, validate_max=True
)


def _csv(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\n;]", text or "") if part.strip()]


class SequenceAdminForm(forms.ModelForm[FollowupSequence]):
    """A sequence: criteria as fields, steps as rows (the formset `steps_formset`)."""

    crit_status = forms.MultipleChoiceField(
        label=_("status do lead"),
        required=False,
        choices=[(value, LeadStatus(value).label) for value in OPEN_STATUSES],
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        help_text=_("Nenhum marcado: qualquer status em aberto."),
    )
    crit_temperatura = forms.MultipleChoiceField(
        label=_("temperatura"),
        required=False,
        choices=Temperatura.choices,
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
    )
    crit_origem = forms.CharField(
        label=_("origens"),
        required=False,
        widget=UnfoldAdminTextInputWidget,
        help_text=_("Separadas por vírgula, por exemplo: instagram, indicacao."),
    )
    crit_tags = forms.CharField(
        label=_("tags"),
        required=False,
        widget=UnfoldAdminTextInputWidget,
        help_text=_("Separadas por vírgula."),
    )
    crit_score_min = forms.IntegerField(
        label=_("score mínimo"), required=False, widget=UnfoldAdminIntegerFieldWidget
    )
    crit_score_max = forms.IntegerField(
        label=_("score máximo"), required=False, widget=UnfoldAdminIntegerFieldWidget
    )
    crit_dias_sem_interacao = forms.IntegerField(
        label=_("dias sem interação"), required=False, widget=UnfoldAdminIntegerFieldWidget
    )

    CRITERIA_FIELDS = (
        "crit_status",
        "crit_temperatura",
        "crit_origem",
        "crit_tags",
        "crit_score_min",
        "crit_score_max",
        "crit_dias_sem_interacao",
    )

    class Meta:
        model = FollowupSequence
        fields = [
            "organization",
            "nome",
            "descricao",
            "ativo",
            "horario_envio_inicio",
            "horario_envio_fim",
            "pausar_fim_semana",
            "pausar_feriados",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        criteria = dict(self.instance.criterios_ativacao or {}) if self.instance.pk else {}
        for key in ("status", "temperatura", "score_min", "score_max", "dias_sem_interacao"):
            if key in criteria:
                self.initial.setdefault(f"crit_{key}", criteria[key])
        for key in ("origem", "tags"):
            if key in criteria:
                self.initial.setdefault(f"crit_{key}", ", ".join(criteria[key]))
        steps = list(self.instance.steps or []) if self.instance.pk else []
        self.steps_formset = StepFormSet(
            data=self.data if self.is_bound else None,
            initial=steps,
            prefix="passos",
        )

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound:
            return
        self._clean_steps()

    def _clean_steps(self) -> None:
        formset = self.steps_formset
        if not formset.is_valid():
            self.add_error(None, _("Corrija os passos destacados abaixo."))
            return
        rows = [
            form
            for form in formset.forms
            if not form.cleaned_data.get("DELETE") and not form.is_blank()
        ]
        try:
            self.cleaned_data["steps"] = normalize_steps([form.as_step() for form in rows])
        except SequenceDataInvalid as exc:
            for key, problems in exc.details.items():
                if not key.isdigit():
                    self.add_error(None, " ".join(map(str, problems)))
                    continue
                row = rows[int(key)]
                for field, messages in problems.items():
                    text = " ".join(map(str, messages))
                    number = _("Passo %(n)s") % {"n": int(key) + 1}
                    if field in row.fields:
                        row.add_error(field, text)
                    else:
                        row.add_error(None, f"{field}: {text}")
                    self.add_error(None, f"{number}: {text}")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        raw: dict[str, Any] = {
            "status": cleaned.get("crit_status") or None,
            "temperatura": cleaned.get("crit_temperatura") or None,
            "origem": _csv(cleaned.get("crit_origem", "")) or None,
            "tags": _csv(cleaned.get("crit_tags", "")) or None,
            "score_min": cleaned.get("crit_score_min"),
            "score_max": cleaned.get("crit_score_max"),
            "dias_sem_interacao": cleaned.get("crit_dias_sem_interacao"),
        }
        try:
            cleaned["criterios_ativacao"] = normalize_criteria(raw)
        except SequenceDataInvalid as exc:
            for key, messages in exc.details.items():
                field = f"crit_{key}" if f"crit_{key}" in self.fields else None
                self.add_error(field, " ".join(map(str, messages)))
        try:
            validate_window(cleaned.get("horario_envio_inicio"), cleaned.get("horario_envio_fim"))
        except SequenceDataInvalid as exc:
            self.add_error(
                "horario_envio_fim", " ".join(map(str, exc.details["horario_envio_fim"]))
            )
        return cleaned
