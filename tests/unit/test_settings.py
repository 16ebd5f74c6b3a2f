import pytest
from pydantic import ValidationError

from services.config import Settings


def test_defaults_point_at_the_local_stack() -> None:
    settings = Settings()
    assert settings.engine_rest_url == "http://127.0.0.1:8080/engine-rest"
    assert settings.tasklist_url == "http://127.0.0.1:8080/operaton/app/tasklist/default/"
    assert settings.mailbox_dir == settings.data_dir / "mailbox"
    assert settings.smsc_dir == settings.data_dir / "smsc"
    assert (settings.smpp_host, settings.smpp_port) == ("127.0.0.1", 2775)


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PORT", "2600")
    monkeypatch.setenv("ENGINE_REST_URL", "https://surec.belediye.local/engine-rest")
    settings = Settings()
    assert settings.smtp_port == 2600
    assert settings.engine_rest_url == "https://surec.belediye.local/engine-rest"


def test_production_refuses_the_local_database_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="local default password"):
        Settings()
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://app:s3cret@db.belediye.local/hizmet")
    with pytest.raises(ValidationError, match="ENGINE_PASSWORD"):
        Settings()
    monkeypatch.setenv("ENGINE_PASSWORD", "uzun-ve-gizli")
    with pytest.raises(ValidationError, match="PERSONAL_DATA_KEYS"):
        Settings()
    monkeypatch.setenv("PERSONAL_DATA_KEYS", "Z2l6bGktYW5haHRhci1vdHV6LWlraS1iYXl0LXV6dW4=")
    with pytest.raises(ValidationError, match="OIDC_ISSUER"):
        Settings()
    monkeypatch.setenv("OIDC_ISSUER", "https://kimlik.belediye.local/realms/belediye")
    with pytest.raises(ValidationError, match="WEB_SECRET"):
        Settings()
    monkeypatch.setenv("WEB_SECRET", "f0rm-imza-anahtari-uzun-ve-rastgele-olmali")
    with pytest.raises(ValidationError, match="SMPP_PASSWORD"):
        Settings()
    monkeypatch.setenv("SMPP_PASSWORD", "Gz7-k2Lq")
    assert Settings().environment == "production"


def test_a_malformed_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PORT", "yirmi-beş")
    with pytest.raises(ValidationError, match="smtp_port"):
        Settings()


def test_an_smpp_password_longer_than_smpp_allows_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMPP_PASSWORD", "dokuz-harf")  # SMPP 3.4 carries at most 8 characters
    with pytest.raises(ValidationError, match="smpp_password"):
        Settings()
