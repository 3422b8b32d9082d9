"""The unsubscribe page (no login: the signed token in the URL is the authorization).

GET shows a confirmation button and changes nothing, because mail scanners and link previews
fetch links on their own. POST (the button, or a mail client's RFC 8058 one-click request
with `List-Unsubscribe=One-Click`) revokes email in the consent ledger (`leads.consent`), which
sets `opt_out_email`.
An invalid or tampered token answers a 400 page; nothing here can answer a 5xx for bad input.
"""

from __future__ import annotations

from django.core import signing
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from followup.channels import read_unsubscribe_token
from leads.consent import consent_set
from leads.models import ConsentCanal, ConsentEstado, Lead


@csrf_exempt  # one-click POSTs come from mail providers, without our CSRF cookie
@require_http_methods(["GET", "POST", "HEAD"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        lead_id = read_unsubscribe_token(token)
        lead = Lead.objects.filter(pk=lead_id).first()
    except (signing.BadSignature, ValueError, ValidationError):
        return render(request, "followup/unsubscribe_invalid.html", status=400)
    if request.method == "POST":
        if lead is not None and not lead.opt_out_email:
            one_click = request.POST.get("List-Unsubscribe") == "One-Click"
            consent_set(
                lead=lead,
                canal=ConsentCanal.EMAIL,
                estado=ConsentEstado.REVOGADO,
                origem="descadastro",
                evidencia={
                    "pagina": "descadastro",
                    "one_click": one_click,
                    "user_agent": request.META.get("HTTP_USER_AGENT", "")[:200],
                },
            )
        return render(request, "followup/unsubscribe_done.html")
    already = bool(lead is None or lead.opt_out_email)
    return render(request, "followup/unsubscribe_confirm.html", {"already": already})
