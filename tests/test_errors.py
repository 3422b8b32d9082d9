from __future__ import annotations

import pytest

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
