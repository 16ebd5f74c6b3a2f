"""Settings from the environment, validated once and cached (see README "Configuration")."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO = Path(__file__).resolve().parents[1]
DEFAULT_EVIDENCE_TYPES = (
    "application/pdf",
    "image/jpeg",
    "image/png",
    "text/plain",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)
LOCAL_DATABASE_URL = "postgresql+psycopg://kalite:kalite@127.0.0.1:5432/kalite"
# The local Keycloak realm `make up` starts (deploy/local/keycloak.py); production refuses it.
LOCAL_OIDC_ISSUER = "http://127.0.0.1:8070/realms/belediye"
LOCAL_SMPP_PASSWORD = "yerelsms"  # noqa: S105 - the local SMS centre's; production refuses it
LOCAL_WEB_SECRET = "yerel-gelistirme-icin-form-imza-anahtari"  # noqa: S105 - production refuses it


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    environment: Literal["local", "production"] = Field(
        "local", description="`production` refuses the local default secrets"
    )
    database_url: str = Field(LOCAL_DATABASE_URL, description="SQLAlchemy URL of our PostgreSQL")
    engine_rest_url: str = Field(
        "http://127.0.0.1:8080/engine-rest", description="Operaton's REST API (process engine)"
    )
    engine_username: str = Field("demo", description="Engine user the API, workers and tools act as")
    engine_password: str = Field("demo", description="That engine user's password")
    tasklist_url: str = Field(
        "http://127.0.0.1:8080/operaton/app/tasklist/default/", description="Tasklist link in mails"
    )
    worker_max_tasks: int = Field(16, gt=0, description="External tasks a worker process runs at once")
    worker_poll_seconds: float = Field(
        10.0,
        gt=0,
        # A task whose retry back-off ends does not wake a waiting poll: the next poll finds it.
        description="How long one long poll for external tasks waits at the engine",
    )
    worker_http_host: str = Field(
        "127.0.0.1", description="Bind address of the workers' health and metrics listener"
    )
    worker_http_port: int = Field(
        9100, ge=0, le=65535, description="Port of the workers' health probes and /metrics (0: any free port)"
    )
    smtp_host: str = Field("127.0.0.1", description="Outgoing mail server")
    smtp_port: int = Field(2525, description="Outgoing mail port")
    smtp_username: str = Field("", description="SMTP login (empty: none)")
    smtp_password: str = Field("", description="SMTP password")
    smtp_starttls: bool = Field(False, description="Use STARTTLS")
    smtp_timeout_seconds: float = Field(15.0, description="SMTP conversation timeout")
    mail_from: str = Field(
        "Belediye Hizmet Takip <hizmet-takip@belediye.local>", description="Sender of every mail"
    )
    system_check_recipient: str = Field(
        "ops@belediye.local", description="Recipient of the system check's test mail"
    )
    smpp_host: str = Field("127.0.0.1", description="SMS centre (SMPP 3.4); the operator's in production")
    smpp_port: int = Field(2775, description="SMS centre port")
    smpp_system_id: str = Field("belediye", max_length=15, description="SMPP bind: system_id")
    smpp_password: SecretStr = Field(
        SecretStr(LOCAL_SMPP_PASSWORD),
        max_length=8,  # SMPP 3.4's limit: a longer one would be cut silently on the wire
        description="SMPP bind: password (at most 8 characters)",
    )
    smpp_system_type: str = Field("", max_length=12, description="SMPP bind: system_type (operator's)")
    smpp_source_addr: str = Field(
        "BELEDIYE", max_length=20, description="Sender shown on the phone (alphanumeric header)"
    )
    smpp_source_addr_ton: int = Field(5, ge=0, le=6, description="Sender's type of number (5 alphanumeric)")
    smpp_source_addr_npi: int = Field(0, ge=0, le=18, description="Sender's numbering plan (0 unknown)")
    smpp_connect_timeout_seconds: float = Field(10.0, gt=0, description="TCP connect and bind limit")
    smpp_response_timeout_seconds: float = Field(15.0, gt=0, description="Limit for one submit_sm answer")
    smpp_reconnect_seconds: float = Field(
        5.0, gt=0, description="Wait before the workers bind again for delivery receipts"
    )
    data_dir: Path = Field(REPO / ".data", description="Data, installs, logs, mailbox, SMS centre")
    api_host: str = Field("127.0.0.1", description="API bind address")
    api_port: int = Field(8000, description="API port")
    log_level: str = Field("INFO", description="Log level of the API and workers")
    outbox_poll_seconds: float = Field(0.5, description="How often the outbox dispatcher looks for work")
    audit_seal_seconds: float = Field(1.0, gt=0, description="How often the workers chain new audit lines")
    indicator_refresh_seconds: float = Field(
        60.0, gt=0, description="How often the workers bring the monitoring summaries up to date"
    )
    evidence_max_bytes: int = Field(20 * 1024 * 1024, gt=0, description="Largest evidence file accepted")
    evidence_allowed_types: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EVIDENCE_TYPES),
        description="Evidence media types accepted (JSON list)",
    )
    max_request_bytes: int = Field(256 * 1024, gt=0, description="Largest request body (evidence aside)")
    photo_max_bytes: int = Field(5 * 1024 * 1024, gt=0, description="Largest photo a citizen may attach")
    photo_allowed_types: list[str] = Field(
        default_factory=lambda: ["image/jpeg", "image/png"],
        description="Photo media types accepted from citizens (JSON list)",
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8000", description="Address citizens and Open311 clients reach the API at"
    )
    web_secret: SecretStr = Field(
        SecretStr(LOCAL_WEB_SECRET),
        description="Signs the citizen page's form tokens (CSRF, bot check); 32+ random characters",
    )
    public_posts_per_minute: int = Field(
        10, ge=1, description="Citizen page and Open311 submissions a minute from one address"
    )
    public_reads_per_minute: int = Field(
        120, ge=1, description="Citizen page views and Open311 reads a minute from one address"
    )
    metrics_allowed_networks: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="Addresses allowed to read the API's GET /metrics (JSON list of CIDRs); others get 404",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Load balancers whose X-Forwarded-For names the caller's address (JSON list of IPs)",
    )
    web_pow_difficulty: int = Field(
        14,
        ge=0,
        le=24,
        description="Citizen page bot check: leading zero bits the browser's proof-of-work must find "
        "(each step doubles the work; 0 turns it off, the question in words stays)",
    )
    web_form_minutes: int = Field(
        120, ge=5, le=1440, description="How long a citizen page form stays valid after it was shown"
    )
    map_tile_url: str = Field(
        "",
        description="Map tiles for the citizen page, e.g. https://harita.belediye.gov.tr/{z}/{x}/{y}.png "
        "(empty: no map, address text only)",
    )
    map_attribution: str = Field("", description="The tile server's attribution, shown under the map")
    kvkk_notice_url: str = Field(
        "/kvkk", description="The KVKK information notice (aydınlatma metni) the citizen page links to"
    )
    open311_jurisdiction_id: str = Field(
        "", description="Open311 jurisdiction_id (empty: a single jurisdiction, the parameter is optional)"
    )
    cors_allowed_origins: list[str] = Field(
        default_factory=list, description="Web origins allowed to call the API from a browser (JSON list)"
    )
    personal_data_keys: SecretStr = Field(
        SecretStr(""),
        description="Fernet keys for citizens' contact data, comma-separated, newest first",
    )
    oidc_issuer: str = Field(
        LOCAL_OIDC_ISSUER, description="Issuer of staff tokens (OIDC); its JWKS validates them"
    )
    oidc_audience: str = Field("belediye-hizmet-takip", description="Audience staff tokens must carry")
    oidc_jwks_url: str = Field("", description="JWKS address (empty: from the issuer's discovery document)")
    oidc_roles_claim: str = Field("roles", description="Claim with the roles, dotted (realm_access.roles)")
    oidc_directorate_claim: str = Field("directorate", description="Claim with the user's directorate code")
    oidc_username_claim: str = Field("preferred_username", description="Claim with the user name")
    staff_client_id: str = Field(
        "belediye-personel", description="OIDC client of the staff pages (/personel); the ID token's audience"
    )
    staff_client_secret: SecretStr = Field(
        SecretStr(""),
        description="That client's secret when it is confidential (empty: a public PKCE client)",
    )
    staff_session_idle_minutes: int = Field(
        30, ge=1, le=24 * 60, description="A staff page session ends after this long without a request"
    )
    staff_session_max_hours: float = Field(
        10, gt=0, le=7 * 24, description="A staff page session ends this long after sign-in, however used"
    )
    api_key_cache_seconds: float = Field(
        10.0,
        ge=0,
        description="How long the API trusts a looked-up channel key (a revocation waits this long)",
    )
    report_font_path: Path = Field(
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        description="TrueType font with Turkish letters for PDF reports",
    )

    @property
    def personal_data_key_list(self) -> list[str]:
        from services.personal_data import LOCAL_DEVELOPMENT_KEY

        keys = [k.strip() for k in self.personal_data_keys.get_secret_value().split(",") if k.strip()]
        return keys or [LOCAL_DEVELOPMENT_KEY]

    @property
    def mailbox_dir(self) -> Path:
        return self.data_dir / "mailbox"

    @property
    def smsc_dir(self) -> Path:
        """The local SMS centre's store (deploy/local/smsc.py)."""
        return self.data_dir / "smsc"

    @field_validator("metrics_allowed_networks")
    @classmethod
    def _networks(cls, networks: list[str]) -> list[str]:
        for network in networks:
            ipaddress.ip_network(network)  # ValueError names a malformed CIDR at start-up
        return networks

    @model_validator(mode="after")
    def _no_local_secrets_in_production(self) -> Settings:
        if self.environment == "production" and "kalite:kalite@" in self.database_url:
            raise ValueError("DATABASE_URL still uses the local default password in production")
        if self.environment == "production" and self.engine_password == "demo":  # noqa: S105 - refusing the default
            raise ValueError("ENGINE_PASSWORD still has the local default in production")
        if self.environment == "production" and not self.personal_data_keys.get_secret_value().strip():
            raise ValueError("PERSONAL_DATA_KEYS is required in production (it encrypts citizens' data)")
        if self.environment == "production" and self.oidc_issuer.rstrip("/") == LOCAL_OIDC_ISSUER:
            raise ValueError("OIDC_ISSUER must be the municipality's identity provider in production")
        if self.environment == "production" and self.web_secret.get_secret_value() == LOCAL_WEB_SECRET:
            raise ValueError("WEB_SECRET still has the local default in production")
        if self.environment == "production" and self.smpp_password.get_secret_value() == LOCAL_SMPP_PASSWORD:
            raise ValueError("SMPP_PASSWORD still has the local SMS centre's default in production")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
