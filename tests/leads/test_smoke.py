from __future__ import annotations

import pytest

from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_it_lists_leads(org_a, org_b, client_for):
    LeadFactory.create_batch(3, organization=org_a.org)
    LeadFactory(organization=org_b.org)
    response = client_for(org_a.admin).get("/api/v1/leads/")
    assert response.status_code == 200, response.content
    assert response.json()["pagination"]["total"] == 3
