"""`/convites/<token>/`: the page an invited user opens from the email (a plain Django view).

The person confirms with the password of their account: `authenticate()` goes through the
login lockout (django-axes, organizations.auth), so the page cannot be used to guess
passwords faster than the login routes. Accepting creates the membership
(organizations.invitations.invitation_accept)."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from config.errors import NotFound
from organizations import invitations
from organizations.models import User


@require_http_methods(["GET", "POST"])
def accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = invitations.pending_invitation(token)
    if invitation is None:
        return render(request, "invitations/accept.html", {"invitation": None}, status=404)
    context = {"invitation": invitation, "error": ""}
    if request.method == "POST":
        user = authenticate(
            request, username=invitation.email, password=request.POST.get("senha", "")
        )
        if not isinstance(user, User):
            context["error"] = _("Senha incorreta.")
            response = render(request, "invitations/accept.html", context, status=400)
            return response
        try:
            accepted = invitations.invitation_accept(token=token, user=user)
        except NotFound:
            return render(request, "invitations/accept.html", {"invitation": None}, status=404)
        return render(
            request,
            "invitations/accept.html",
            {"accepted": True, "organization": accepted.organization},
        )
    return render(request, "invitations/accept.html", context)
