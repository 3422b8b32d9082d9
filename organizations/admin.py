"""Admin for organizations and members, and the organization-scoped base used by every app.

Access follows the membership (organizations.access): every active member uses the back
office for one organization at a time (`admin_membership`), sees the rows the API shows their
role and changes what the API lets that role change. Superusers (the platform's operators) see
every organization.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db.models import ForeignKey, ManyToManyField, Model, QuerySet
from django.forms import ModelChoiceField, ModelMultipleChoiceField
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from unfold.widgets import (
    UnfoldAdminEmailInputWidget,
    UnfoldAdminPasswordWidget,
    UnfoldAdminSelectWidget,
)

from config.admin_dates import FastDatesChangeList
from config.errors import ConflictError
from organizations import access, services
from organizations.access import Policy, admin_membership
from organizations.invitations import invitation_cancel, member_add_or_invite
from organizations.models import (
    Invitation,
    Membership,
    Notification,
    Organization,
    OrganizationHoliday,
    Role,
    User,
)


def _org_path_field(model: type[Model]) -> str | None:
    """How a related model reaches its organization (for scoping choices), or None."""
    if model is Organization:
        return "pk"
    names = {f.name for f in model._meta.get_fields()}
    if "organization" in names:
        return "organization"
    if model is User:
        return "memberships__organization"
    return None


def scope_choices(request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
    """Choices of a form field or filter: only the current organization's rows."""
    if request.user.is_superuser:
        return queryset
    related_admin = admin.site._registry.get(queryset.model)
    if isinstance(related_admin, OrgScopedAdmin | UserAdmin):
        # What the member may see of that model in the admin, with the same role narrowing
        # (e.g. a closer of an "atribuidos" organization picks only their own leads).
        return queryset.filter(pk__in=related_admin.get_queryset(request).values("pk"))
    membership = admin_membership(request)
    path = _org_path_field(queryset.model)
    if membership is None or path is None:
        return queryset.none()
    return queryset.filter(**{path: membership.organization_id}).distinct()


def _member_may(
    request: HttpRequest,
    policy: Policy,
    action: access.Action,
    obj: Any,
    may_write_object: Any,
) -> bool:
    """The admin's question for every page, inline and action: the role table of the policy,
    then the object rule (`may_write_object`) for a write of one object; superusers may all."""
    if request.user.is_superuser:
        return True
    membership = admin_membership(request)
    if membership is None or not access.may(membership, policy, action):
        return False
    return obj is None or action == "read" or bool(may_write_object(membership, obj))


class ScopedChoicesMixin:
    """Every foreign key / many-to-many choice comes from the current organization only."""

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]
        if field is not None:
            field.queryset = scope_choices(request, field.queryset)
        return cast("ModelChoiceField[Any] | None", field)

    def formfield_for_manytomany(
        self, db_field: ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelMultipleChoiceField[Any] | None:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]
        if field is not None:
            field.queryset = scope_choices(request, field.queryset)
        return cast("ModelMultipleChoiceField[Any] | None", field)


# Portuguese plurals (first word) that are feminine: "tarefas", "notificações", "mensagens".
FEMININE_PLURAL_ENDINGS = ("as", "ões", "agens")


def delete_selected_description(model: type[Model]) -> Any:
    """The delete action's label agreeing with the model's gender in Portuguese: Django's
    pt_BR "Remover %(verbose_name_plural)s selecionados" reads "Remover tarefas selecionados"."""
    with translation.override("pt-br"):
        first_word = str(model._meta.verbose_name_plural).split(" ")[0].lower()
    if first_word.endswith(FEMININE_PLURAL_ENDINGS):
        return _("Remover %(verbose_name_plural)s selecionadas")
    return _("Remover %(verbose_name_plural)s selecionados")


class PortugueseDeleteActionMixin:
    """Replaces the delete action's description by one that agrees in gender."""

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)  # type: ignore[misc]
        if "delete_selected" in actions:
            func, name, _description = actions["delete_selected"]
            model: type[Model] = self.model  # type: ignore[attr-defined]
            actions["delete_selected"] = (func, name, delete_selected_description(model))
        return cast("dict[str, Any]", actions)


class OrgScopedAdmin(PortugueseDeleteActionMixin, ScopedChoicesMixin, ModelAdmin):
    """Base for every organization-owned model's admin.

    Declare `policy` (organizations.access) and, where the API narrows further by role,
    override `scope_queryset` (e.g. lead visibility) and `may_write_object` (e.g. a mentor's
    own mentees).
    """

    org_field = "organization"  # path from the model to its organization
    policy: Policy = access.DEFAULT
    # No expandable rows (unfold's list sections); unfold's row template asks every row.
    list_sections: tuple[Any, ...] = ()

    # -- rows ---------------------------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return cast("QuerySet[Any]", queryset)
        membership = admin_membership(request)
        if membership is None or not access.may(membership, self.policy, "read"):
            return cast("QuerySet[Any]", queryset.none())
        scoped = queryset.filter(**{self.org_field: membership.organization_id})
        return self.scope_queryset(scoped, membership)

    def scope_queryset(self, queryset: QuerySet[Any], membership: Membership) -> QuerySet[Any]:
        """Role-based narrowing inside the organization (the API's `scope_queryset`)."""
        return queryset

    def may_write_object(self, membership: Membership, obj: Any) -> bool:
        """Object-level rule on top of the role (the object is already in the queryset)."""
        return True

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> Any:
        # The date hierarchy's choices without a scan of the whole list (config.admin_dates).
        return FastDatesChangeList

    # -- permissions: the role table of organizations.access ---------------------------------
    def _may(self, request: HttpRequest, action: access.Action, obj: Any = None) -> bool:
        return _member_may(request, self.policy, action, obj, self.may_write_object)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._may(request, "read")

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may(request, "read", obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._may(request, "add")

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may(request, "delete", obj)

    def _get_obj_does_not_exist_redirect(
        self, request: HttpRequest, opts: Any, object_id: Any
    ) -> Any:
        # Another organization's object is simply not there: a 404, as in the API, instead of
        # Django's redirect with a message naming the id.
        raise Http404(_("Registro não encontrado."))

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # Rows that go with the object (a lead's interactions and history) follow the object's
        # rule, as the API's delete does; Django would otherwise ask for each model's delete.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if self.has_delete_permission(request):
            perms_needed = set()
        return deleted, counts, perms_needed, protected

    # -- the current organization in forms and filters ---------------------------------------
    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = dict(super().get_changeform_initial_data(request))
        membership = admin_membership(request)
        if membership is not None and self.org_field == "organization":
            initial.setdefault("organization", membership.organization_id)
        return initial

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser:
            return filters
        scoped: list[Any] = []
        for entry in filters:
            name = entry if isinstance(entry, str) else None
            if name == "organization":
                continue  # one organization at a time: the filter would only leak names
            if name is not None and self._is_relation(name):
                # Choices drawn from the (scoped) rows, never from the whole related table.
                scoped.append((name, RelatedOnlyFieldListFilter))
            else:
                scoped.append(entry)
        return scoped

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = list(super().get_list_display(request))
        if not request.user.is_superuser and "organization" in columns:
            columns.remove("organization")
        return columns

    def _is_relation(self, path: str) -> bool:
        model: Any = self.model
        field: Any = None
        for part in path.split("__"):
            try:
                field = model._meta.get_field(part)
            except Exception:
                return False
            if not field.is_relation:
                return False
            model = field.related_model
        return field is not None and field.is_relation


class ReadOnlyAdmin(OrgScopedAdmin):
    """A record the application writes (a log, an audit trail): the policy's readers look;
    nobody adds, changes or deletes one here, not even a superuser."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class OrgScopedInlineMixin(ScopedChoicesMixin):
    """Inline rows follow the parent's organization rules (organizations.access), not Django's
    model permissions: `policy` says which roles read and write them."""

    policy: Policy = access.DEFAULT

    def may_write_object(self, membership: Membership, obj: Any) -> bool:
        return True

    def _may(self, request: HttpRequest, action: access.Action, obj: Any = None) -> bool:
        return _member_may(request, self.policy, action, obj, self.may_write_object)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, "read", obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, "add", obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, "delete", obj)


class OrgScopedTabularInline(OrgScopedInlineMixin, TabularInline):
    pass


class OrgScopedStackedInline(OrgScopedInlineMixin, StackedInline):
    pass


@admin.register(Organization)
class OrganizationAdmin(OrgScopedAdmin):
    org_field = "pk"
    policy = access.ORGANIZATION
    list_display = ["nome", "slug", "estado", "timezone", "visibilidade_leads", "created_at"]
    list_filter = ["estado", "visibilidade_leads"]
    search_fields = ["nome", "slug"]
    prepopulated_fields = {"slug": ["nome"]}

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(request.user.is_superuser)

    def save_model(self, request: HttpRequest, obj: Organization, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        services.organization_update(organization=obj, **fields)


# -- members -------------------------------------------------------------------------------


def _role_field(request: HttpRequest, target: Membership | None) -> forms.ChoiceField:
    actor = None if request.user.is_superuser else admin_membership(request)
    allowed = access.assignable_roles(actor)
    choices: list[tuple[str, Any]] = [(v, label) for v, label in Role.choices if v in allowed]
    # A new member's role is chosen, never defaulted to the first (most powerful) one.
    blank: list[tuple[str, Any]] = [("", "---------")] if target is None else []
    return forms.ChoiceField(
        label=capfirst(_("papel")), choices=blank + choices, widget=UnfoldAdminSelectWidget
    )


class MemberAddForm(forms.ModelForm[Membership]):
    """A new member: a new account with an initial password or a link to choose one.

    An email that already has an account becomes an invitation the person accepts
    (organizations/invitations.py): no membership until they do.
    """

    email = forms.EmailField(
        label=capfirst(_("email")), max_length=254, widget=UnfoldAdminEmailInputWidget
    )
    senha_inicial = forms.CharField(
        label=capfirst(_("senha inicial")),
        required=False,
        strip=False,
        widget=UnfoldAdminPasswordWidget(attrs={"autocomplete": "new-password"}),
        help_text=_("Deixe em branco para enviar por email um link para o membro criar a senha."),
    )

    class Meta:
        model = Membership
        fields = ["organization", "email", "nome_completo", "role", "tipo_closer", "senha_inicial"]

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).strip().lower()
        existing = User.objects.filter(email__iexact=email).first()
        if existing is not None:
            organization = self.cleaned_data.get("organization")
            if (
                organization is not None
                and existing.memberships.filter(organization=organization).exists()
            ):
                raise ValidationError(_("Este usuário já é membro da organização."))
        return email

    def clean_senha_inicial(self) -> str:
        password = self.cleaned_data.get("senha_inicial") or ""
        if password:
            validate_password(password)
        return password


class MemberChangeForm(forms.ModelForm[Membership]):
    actor: Membership | None = None  # set per request by MembershipAdmin.get_form

    def clean_role(self) -> str:
        role: str = self.cleaned_data["role"]
        if role != self.instance.role:
            try:
                access.ensure_may_assign_role(actor=self.actor, target=self.instance, role=role)
            except access.RoleNotAllowed as exc:
                raise ValidationError(str(exc)) from None
        return role

    class Meta:
        model = Membership
        fields = ["nome_completo", "role", "tipo_closer", "ativo"]


@admin.register(Membership)
class MembershipAdmin(OrgScopedAdmin):
    policy = access.MEMBERS
    list_display = ["nome_completo", "user", "organization", "role", "tipo_closer", "ativo"]
    list_filter = ["role", "ativo", "organization"]
    search_fields = ["nome_completo", "user__email"]
    list_select_related = ["user", "organization"]
    actions = ["deactivate"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = MemberChangeForm if obj is not None else MemberAddForm
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if "role" in form_class.base_fields:
            form_class.base_fields["role"] = _role_field(request, obj)
        form_class.actor = None if request.user.is_superuser else admin_membership(request)
        return form_class

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return [
                "organization",
                "email",
                "nome_completo",
                "role",
                "tipo_closer",
                "senha_inicial",
            ]
        return ["user", "nome_completo", "role", "tipo_closer", "ativo", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["user", "created_at"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        actor = admin_membership(request) if not request.user.is_superuser else None
        data = form.cleaned_data
        if change:
            changes = {
                name: data[name]
                for name in form.changed_data
                if name in MemberChangeForm.Meta.fields
            }
            saved = services.member_update(
                membership=Membership.objects.get(pk=obj.pk), actor=actor or obj, **changes
            )
        else:
            added = member_add_or_invite(
                organization=data["organization"],
                actor=actor,
                email=data["email"],
                nome_completo=data["nome_completo"],
                role=data["role"],
                password=data["senha_inicial"] or None,
                tipo_closer=data.get("tipo_closer", ""),
            )
            if isinstance(added, Invitation):
                request._invitation = added  # type: ignore[attr-defined]
                self.message_user(
                    request,
                    _(
                        "%(email)s já tem uma conta: enviamos um convite por email; a pessoa "
                        "vira membro quando aceitar."
                    )
                    % {"email": data["email"]},
                )
                return
            saved = added
            if not data["senha_inicial"]:
                sent = services.member_send_password_link(membership=saved, request=request)
                if sent:
                    self.message_user(
                        request,
                        _("Link para criar a senha enviado para %(email)s.")
                        % {"email": data["email"]},
                    )
                else:
                    self.message_user(
                        request,
                        _("Não foi possível enviar o email com o link; tente de novo mais tarde."),
                        messages.WARNING,
                    )
        obj.pk = saved.pk
        obj._state.adding = False

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        if getattr(request, "_invitation", None) is not None:
            return None  # an invitation, not a member: nothing was added yet
        return super().log_addition(request, obj, message)

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        if getattr(request, "_invitation", None) is not None:
            return HttpResponseRedirect(reverse("admin:organizations_membership_changelist"))
        return super().response_add(request, obj, post_url_continue)

    def _changeform_view(
        self, request: HttpRequest, object_id: Any, form_url: Any, extra_context: Any
    ) -> Any:
        # Service refusals (the last admin, a role above the actor's) become a form message.
        try:
            return super()._changeform_view(request, object_id, form_url, extra_context)
        except (ConflictError, access.RoleNotAllowed) as exc:
            self.message_user(request, str(getattr(exc, "message", exc)), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    @admin.action(description=_("Desativar membros selecionados"), permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        actor = admin_membership(request)
        done = 0
        for membership in queryset.select_related("organization"):
            try:
                services.member_deactivate(membership=membership, actor=actor or membership)
                done += 1
            except ConflictError as exc:  # the service explains (e.g. the last admin)
                self.message_user(request, f"{membership}: {exc.message}", messages.ERROR)
        if done:
            self.message_user(request, _("%(n)d membro(s) desativado(s).") % {"n": done})


@admin.register(OrganizationHoliday)
class OrganizationHolidayAdmin(OrgScopedAdmin):
    policy = access.HOLIDAYS
    list_display = ["data", "nome", "organization"]
    list_filter = ["organization"]
    search_fields = ["nome"]
    list_select_related = ["organization"]
    date_hierarchy = "data"


@admin.register(Notification)
class NotificationAdmin(OrgScopedAdmin):
    policy = access.NOTIFICATIONS
    list_display = ["titulo", "tipo", "recipient", "read_at", "created_at"]
    list_filter = ["tipo", "organization"]
    search_fields = ["titulo"]
    list_select_related = ["recipient"]
    readonly_fields = ["payload", "chave"]

    def scope_queryset(self, queryset: QuerySet[Any], membership: Membership) -> QuerySet[Any]:
        return queryset.filter(recipient=membership)  # one's own, as GET /notifications/


@admin.register(Invitation)
class InvitationAdmin(OrgScopedAdmin):
    """The organization's invitations, read-only; admins cancel pending ones (the same
    service as DELETE /api/v1/invitations/{id}/). They are sent from "Adicionar membro"."""

    policy = access.INVITATIONS
    list_display = ["email", "nome_completo", "role", "situacao", "invited_by", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["email", "nome_completo"]
    list_select_related = ["invited_by__user", "organization"]
    fields = [
        "organization",
        "email",
        "nome_completo",
        "role",
        "tipo_closer",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
    ]
    readonly_fields = fields
    actions = ["cancel"]

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Only the cancel action changes anything; a row is never edited.
        return obj is None and super().has_change_permission(request, None)

    @admin.display(description=_("situação"))
    def situacao(self, obj: Invitation) -> str:
        if obj.accepted_at is not None:
            return str(_("Aceito"))
        if obj.expires_at <= timezone.now():
            return str(_("Expirado"))
        return str(_("Pendente"))

    @admin.action(description=_("Cancelar convite"), permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        # The rows are the current organization's (get_queryset), the action asks the policy's
        # "change" (admins): only an accepted invitation is left to refuse.
        done = 0
        for invitation in queryset:
            try:
                invitation_cancel(invitation=invitation)
                done += 1
            except ConflictError as exc:
                self.message_user(request, f"{invitation.email}: {exc.message}", messages.ERROR)
        if done:
            self.message_user(request, _("%(n)d convite(s) cancelado(s).") % {"n": done})


@admin.register(User)
class UserAdmin(PortugueseDeleteActionMixin, ScopedChoicesMixin, DjangoUserAdmin[User], ModelAdmin):
    """Accounts: organization admins see their members' accounts (created through "Membros");
    only superusers change accounts, which may belong to several organizations."""

    policy = access.USERS
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm

    ordering = ["email"]
    list_display = ["email", "nome_completo", "is_active", "date_joined"]
    list_filter = ["is_superuser", "is_active"]
    search_fields = ["email", "nome_completo"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Dados pessoais"), {"fields": ("nome_completo",)}),
        (_("Permissões"), {"fields": ("is_active", "is_superuser")}),
        (_("Datas"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("email", "nome_completo", "password1", "password2")},
        ),
    )

    def _get_obj_does_not_exist_redirect(
        self, request: HttpRequest, opts: Any, object_id: Any
    ) -> Any:
        raise Http404(_("Registro não encontrado."))  # as OrgScopedAdmin

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        membership = admin_membership(request)
        if membership is None or not access.may(membership, access.USERS, "read"):
            return queryset.none()
        return queryset.filter(memberships__organization=membership.organization_id).distinct()

    def has_module_permission(self, request: HttpRequest) -> bool:
        if request.user.is_superuser:
            return True
        return access.may(admin_membership(request), access.USERS, "read")

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(request.user.is_superuser)
