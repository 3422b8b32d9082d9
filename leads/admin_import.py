"""The import wizard in the admin: upload (CSV or XLSX), map the columns with a preview of the
first rows and their errors, run on the import job with a live progress bar, the result with a
downloadable error report, and the list of past imports (read-only, organization-scoped).

Who may import: the roles the API lets import (`csv_io.IMPORT_ROLES`); sellers see only the
imports they uploaded, as in `GET /api/v1/imports/`. Another organization's import is a 404.
"""

from __future__ import annotations

import csv
import io
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads import csv_io, importing
from leads.models import LeadImport, LeadImportStatus
from organizations import access
from organizations.admin import OrgScopedAdmin
from organizations.models import Membership, Organization

NOT_IMPORTED = ""
FORMULA_PREFIXES = ("=", "+", "-", "@")


def _import_memberships(request: HttpRequest) -> list[Membership]:
    """The requester's active memberships whose role may import: from the back office's own
    list of them (read once per request, organizations.access), not a query of their own."""
    return [m for m in access.admin_memberships(request) if m.role in csv_io.IMPORT_ROLES]


class UploadForm(forms.Form):
    organization = forms.ModelChoiceField(
        label=gettext_lazy("Organização"), queryset=Organization.objects.none()
    )
    file = forms.FileField(
        label=gettext_lazy("Arquivo"),
        help_text=gettext_lazy(
            "Planilha CSV (UTF-8, separada por ; ou ,) ou Excel (.xlsx), com uma linha de "
            "cabeçalho. Colunas como Nome, E-mail, Telefone, Status, Origem, Empresa e Valor "
            "são reconhecidas; você confere o mapeamento no próximo passo."
        ),
    )

    def __init__(self, *args: Any, organizations: QuerySet[Organization], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast("forms.ModelChoiceField[Any]", self.fields["organization"])
        field.queryset = organizations
        self.only_organization = organizations.first() if organizations.count() == 1 else None
        if self.only_organization is not None:
            # One organization: nothing to choose (and nothing a request must send).
            field.required = False
            field.initial = self.only_organization
            field.widget = forms.HiddenInput()

    def clean_organization(self) -> Organization:
        chosen = self.cleaned_data.get("organization")
        organization = chosen or self.only_organization
        if organization is None:
            raise forms.ValidationError(_("Escolha a organização."))
        return organization

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > csv_io.max_bytes():
            raise forms.ValidationError(
                _("O arquivo passa do limite de %(mb)s MB.")
                % {"mb": round(csv_io.max_bytes() / 1024 / 1024, 1)}
            )
        try:
            table, _delimiter = csv_io.read_table(upload.read())
        except csv_io.CsvProblem as problem:
            messages = [problem.message]
            for items in problem.details.values():
                messages.extend(str(item) for item in items)
            raise forms.ValidationError(messages) from None
        if table.data_rows == 0:
            raise forms.ValidationError(_("O arquivo não tem linhas de dados."))
        if table.data_rows > csv_io.max_rows():
            raise forms.ValidationError(
                _("O arquivo tem linhas demais (máximo %(n)s).") % {"n": csv_io.max_rows()}
            )
        self.cleaned_data["table"] = table
        return upload


def _field_choices() -> list[tuple[str, Any]]:
    return [(NOT_IMPORTED, _("— não importar —"))] + [
        (name, importing.FIELD_LABELS[name]) for name in csv_io.IMPORT_COLUMNS
    ]


class MappingForm(forms.Form):
    """One choice per column of the file: the lead field it fills, or nothing."""

    def __init__(
        self, *args: Any, table: importing.Table, initial_columns: list[str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.table = table
        samples = [cells for cells in table.lines if any(c.strip() for c in cells)][:3]
        for index, header in enumerate(table.header):
            example = ", ".join(
                cells[index].strip()[:30]
                for cells in samples
                if index < len(cells) and cells[index].strip()
            )
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=header.strip() or _("(coluna %(n)s sem título)") % {"n": index + 1},
                choices=_field_choices(),
                required=False,
                initial=initial_columns[index] if index < len(initial_columns) else NOT_IMPORTED,
                help_text=(_("Ex.: %(values)s") % {"values": example}) if example else "",
            )

    def columns(self) -> list[str]:
        """The confirmed mapping (a bound, valid form)."""
        return [self.cleaned_data.get(f"col_{i}") or "" for i in range(len(self.table.header))]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        problems = importing.mapping_problems(
            [cleaned.get(f"col_{index}") or "" for index in range(len(self.table.header))]
        )
        if problems:
            raise forms.ValidationError(problems)
        return cleaned


class LeadImportAdmin(OrgScopedAdmin):
    """Past imports (read-only) and the wizard's pages."""

    policy = access.IMPORTS

    list_display = [
        "created_at",
        "filename",
        "status",
        "total_rows",
        "processed_rows",
        "created_count",
        "duplicates_skipped",
        "invalid_rows",
        "uploaded_by",
        "organization",
    ]
    list_filter = ["status"]
    list_select_related = ["created_by", "organization"]
    search_fields = ["filename"]
    date_hierarchy = "created_at"
    list_per_page = 50

    @admin.display(description=gettext_lazy("Enviada por"), ordering="created_by")
    def uploaded_by(self, obj: LeadImport) -> str:
        return obj.created_by.nome_completo if obj.created_by else "—"

    # --- scope and permissions (the API's rule: import roles; sellers their own) ----------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request).defer("content")
        if request.user.is_superuser:
            return queryset
        own = [m.pk for m in _import_memberships(request) if m.is_seller]
        managed = [m.organization_id for m in _import_memberships(request) if not m.is_seller]
        return queryset.filter(Q(organization_id__in=managed) | Q(created_by_id__in=own))

    def _may_import(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser or _import_memberships(request))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._may_import(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_import(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._may_import(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # an import's record is history

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _organizations(self, request: HttpRequest) -> QuerySet[Organization]:
        if request.user.is_superuser:
            return Organization.objects.order_by("nome")
        ids = [m.organization_id for m in _import_memberships(request)]
        return Organization.objects.filter(pk__in=ids).order_by("nome")

    def _import_or_404(self, request: HttpRequest, object_id: str) -> LeadImport:
        lead_import = self.get_object(request, object_id)
        if lead_import is None:
            raise Http404(_("Importação não encontrada."))
        return cast(LeadImport, lead_import)

    # --- pages ------------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("upload/", wrap(self.upload_view), name="leads_leadimport_upload"),
            path(
                "<path:object_id>/mapping/",
                wrap(self.mapping_view),
                name="leads_leadimport_mapping",
            ),
            path(
                "<path:object_id>/progress.json",
                wrap(self.progress_view),
                name="leads_leadimport_progress",
            ),
            path(
                "<path:object_id>/errors.csv",
                wrap(self.errors_view),
                name="leads_leadimport_errors",
            ),
            *super().get_urls(),
        ]

    def _context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "has_view_permission": True,
            **extra,
        }

    def add_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:leads_leadimport_upload"))

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self._may_import(request):
            raise PermissionDenied
        organizations = self._organizations(request)
        form = UploadForm(request.POST or None, request.FILES or None, organizations=organizations)
        if request.method == "POST" and form.is_valid():
            organization = form.cleaned_data["organization"]
            actor = next(
                (m for m in _import_memberships(request) if m.organization_id == organization.pk),
                None,
            )
            lead_import = csv_io.lead_import_draft_create(
                organization=organization,
                actor=actor,
                filename=form.cleaned_data["file"].name or "",
                table=form.cleaned_data["table"],
            )
            return HttpResponseRedirect(
                reverse("admin:leads_leadimport_mapping", args=[lead_import.pk])
            )
        return render(
            request,
            "admin/leads/leadimport/upload.html",
            self._context(request, _("Importar leads"), form=form, step=1),
        )

    def mapping_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        lead_import = self._import_or_404(request, object_id)
        if lead_import.status != LeadImportStatus.DRAFT:
            return HttpResponseRedirect(
                reverse("admin:leads_leadimport_change", args=[lead_import.pk])
            )
        table = csv_io.draft_table(lead_import)
        form = MappingForm(
            request.POST or None, table=table, initial_columns=list(lead_import.column_mapping)
        )
        columns = list(lead_import.column_mapping)
        if request.method == "POST":
            valid = form.is_valid()
            columns = [request.POST.get(f"col_{i}", "") for i in range(len(table.header))]
            if valid and "run" in request.POST:
                try:
                    csv_io.lead_import_confirm(lead_import=lead_import, columns=form.columns())
                except csv_io.CsvProblem as problem:
                    for items in problem.details.values():
                        for item in items:
                            form.add_error(None, str(item))
                else:
                    return HttpResponseRedirect(
                        reverse("admin:leads_leadimport_change", args=[lead_import.pk])
                    )
        fields = [name for name in columns if name]
        rows = csv_io.preview(table, columns)
        preview_rows = [
            {
                "line": row.line,
                "values": [row.cells.get(name, "") for name in fields],
                "errors": _labelled(errors),
            }
            for row, errors in rows
        ]
        return render(
            request,
            "admin/leads/leadimport/mapping.html",
            self._context(
                request,
                _("Importar leads: colunas"),
                form=form,
                lead_import=lead_import,
                step=2,
                preview_headers=[importing.FIELD_LABELS.get(name, name) for name in fields],
                preview_rows=preview_rows,
                preview_invalid=sum(1 for row in preview_rows if row["errors"]),
            ),
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The import's page: progress (live), then the result and the error report."""
        lead_import = self._import_or_404(request, object_id)
        if lead_import.status == LeadImportStatus.DRAFT:
            return HttpResponseRedirect(
                reverse("admin:leads_leadimport_mapping", args=[lead_import.pk])
            )
        return TemplateResponse(
            request,
            "admin/leads/leadimport/progress.html",
            self._context(
                request,
                _("Importação de leads"),
                lead_import=lead_import,
                progress=progress_payload(lead_import),
                errors=_labelled(lead_import.errors[:20]),
                step=3,
                mapped_fields=[
                    importing.FIELD_LABELS[name]
                    for name in lead_import.column_mapping
                    if name in importing.FIELD_LABELS
                ],
            ),
        )

    def progress_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        lead_import = self._import_or_404(request, object_id)
        return JsonResponse(progress_payload(lead_import))

    def errors_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        lead_import = self._import_or_404(request, object_id)
        buffer = io.StringIO()
        buffer.write("\ufeff")  # Excel pt-BR reads UTF-8 with a BOM
        writer = csv.writer(buffer, delimiter=";")
        writer.writerow([_("linha"), _("campo"), _("mensagem")])
        for error in lead_import.errors:
            writer.writerow(
                [error.get("line", ""), error.get("field", ""), _safe(error.get("message", ""))]
            )
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime(lead_import.created_at).strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="erros-importacao-{stamp}.csv"'
        return response


def _labelled(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors with the field's label instead of its code (`E-mail`, not `email`)."""
    labels = {**importing.FIELD_LABELS, "linha": _("Linha")}
    return [
        {**error, "field": labels.get(error.get("field", ""), error.get("field"))}
        for error in errors
    ]


def _safe(text: str) -> str:
    text = str(text)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def progress_payload(lead_import: LeadImport) -> dict[str, Any]:
    total = lead_import.total_rows
    done = lead_import.processed_rows
    return {
        "id": str(lead_import.pk),
        "status": lead_import.status,
        "status_display": str(lead_import.get_status_display()),
        "total_rows": total,
        "processed_rows": done,
        "percent": 100 if total == 0 else min(100, round(done * 100 / total)),
        "created": lead_import.created_count,
        "duplicates_skipped": lead_import.duplicates_skipped,
        "invalid_rows": lead_import.invalid_rows,
        "error_count": len(lead_import.errors),
        "error_message": lead_import.error_message,
        "finished": lead_import.status in (LeadImportStatus.DONE, LeadImportStatus.FAILED),
    }


admin.site.register(LeadImport, LeadImportAdmin)
