from __future__ import annotations

import pytest

from config import errors
from config.api.exceptions import exception_handler

pytestmark = pytest.mark.django_db


def test_it_answers_unknown_api_paths_with_the_json_error_shape(org_a, client_for):
    response = client_for(org_a.admin).get("/api/v1/nao-existe/")
    assert response.status_code == 404
    assert response.json() == {"error": "Recurso não encontrado.", "details": {}}


def test_it_refuses_too_many_form_fields_with_a_400(org_a, client_for, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    body = "&".join(f"f{i}=x" for i in range(50))
    response = client_for(org_a.admin).post(
        "/api/v1/leads/", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"error", "details"}


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (
            errors.ConflictError("Já existe.", details={"existing_id": 7}),
            409,
            {"error": "Já existe.", "details": {"existing_id": 7}},
        ),
        (
            errors.ValidationError(details={"email": ["E-mail inválido."]}),
            400,
            {
                "error": "Dados inválidos em 'email': E-mail inválido.",
                "details": {"email": ["E-mail inválido."]},
            },
        ),
        (errors.NotFound(), 404, {"error": "Recurso não encontrado.", "details": {}}),
        (errors.PermissionDenied("Só gestores."), 403, {"error": "Só gestores.", "details": {}}),
        (errors.ApplicationError("Recusado."), 400, {"error": "Recusado.", "details": {}}),
    ],
)
def test_it_maps_each_application_error_to_one_http_answer(error, status, body):
    response = exception_handler(error, {})
    assert response is not None
    assert (response.status_code, response.data) == (status, body)


def test_it_gives_the_admin_one_sentence_per_application_error():
    error = errors.ValidationError(details={"steps": {"0": ["Obrigatório."]}})
    assert errors.form_error_message(error) == "Dados inválidos. [steps] 0: Obrigatório."
