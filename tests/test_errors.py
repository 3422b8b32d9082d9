from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_it_answers_unknown_api_paths_with_the_json_error_shape(org_a, client_for):
    response = client_for(org_a.admin).get("/api/v1/nao-existe/")
    assert response.status_code == 404
    assert response.json() == {"error": "Recurso não encontrado.", "details": {}}
