"""Integration records: encrypted secrets and settings refused in words."""

import pytest
from sqlalchemy import text

from app.core.errors import ValidationFailed
from app.extensions import db
from app.integrations import services
from app.integrations.models import Integration
from tests.factories import make_integration


def test_secrets_are_encrypted_at_rest_and_masked(app):
    integration = services.save_integration(None, kind="prestashop", name="Sklep", settings={
        "shop_url": "https://shop.example.com", "language_id": 1, "send_email": True},
        secrets={"api_key": "ZQ88KFJ3LH2P9WXYZ"})
    raw = db.session.execute(text("SELECT credentials_encrypted FROM integrations")).scalar_one()
    assert "ZQ88KFJ3LH2P9WXYZ" not in raw
    assert integration.credentials["api_key"] == "ZQ88KFJ3LH2P9WXYZ"
    assert services.masked_secrets(integration) == {"api_key": "••••••WXYZ", "db_dsn": ""}


def test_an_empty_secret_field_keeps_the_stored_secret(app):
    integration = make_integration("prestashop", credentials={"api_key": "KEEP-ME-123456"})
    services.save_integration(integration, kind="prestashop", name="Renamed",
                              settings={"shop_url": "https://new.example.com", "language_id": 2}, secrets={"api_key": ""})
    db.session.expire_all()
    integration = db.session.get(Integration, integration.id)
    assert integration.credentials["api_key"] == "KEEP-ME-123456" and integration.name == "Renamed"


def test_invalid_settings_are_refused_in_words(app):
    with pytest.raises(ValidationFailed, match="http:// or https://"):
        services.save_integration(None, kind="prestashop", name="X", settings={"shop_url": "shop"},
                                  secrets={"api_key": "k"})
    with pytest.raises(ValidationFailed, match="Client Secret"):
        services.save_integration(None, kind="allegro", name="A", settings={"environment": "sandbox",
                                                                           "client_id": "c"}, secrets={})
