"""The one configuration object. Read once at start-up (env prefix DUALCODE_, optional file), passed down.

Nothing else in the service reads the environment. Every field is listed in docs/configuration.md.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DUALCODE_",
        env_file=None,
        extra="forbid",
        frozen=True,
    )

    # Storage
    database_url: str = Field(
        default="sqlite+aiosqlite:///./var/dualcode.sqlite",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db",
    )
    database_pool_size: int = Field(
        default=20,
        ge=1,
        description="Connections kept per process (PostgreSQL; SQLite: reader connections). Size it to the "
        "requests a process serves at once: past it, PostgreSQL connections are opened and closed per use",
    )
    redis_url: SecretStr | None = Field(
        default=None, description="redis://host:port/db; unset = in-process cache (single process only)"
    )
    auto_migrate: bool = Field(
        default=True, description="Apply migrations at start-up (turn off when several processes share a DB)"
    )
    data_dir: Path = Field(default=Path("./var"), description="Where local data, keys and logs live")

    # Listeners
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    http_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Processes serving HTTP and MLLP on the same ports (recommended: the number of cores)",
    )
    mllp_host: str = "127.0.0.1"
    mllp_port: int = Field(default=2575, ge=0, le=65535, description="0 = pick a free port")
    mllp_enabled: bool = True
    mllp_max_frame_bytes: int = Field(
        default=1_048_576, ge=1024, description="Larger frames are answered AR and discarded"
    )
    mllp_idle_timeout_s: float = Field(default=300.0, gt=0, description="Close a silent connection after")
    mllp_default_charset: str = Field(
        default="utf-8", description="Charset when MSH-18 is empty (many HIS send GBK without saying so)"
    )
    mllp_tls_cert_file: Path | None = Field(
        default=None, description="PEM certificate chain of the MLLP listener; set with the key file = TLS on"
    )
    mllp_tls_key_file: Path | None = Field(default=None, description="PEM private key of the MLLP listener")
    mllp_tls_client_ca_file: Path | None = Field(
        default=None, description="PEM CA bundle: when set, MLLP clients must present a certificate it signed"
    )
    mllp_allowed_peers: tuple[str, ...] = Field(
        default=(),
        description='JSON list of addresses, CIDR blocks or "cn:NAME" (client certificate) that may send; '
        "empty = any peer",
    )
    hl7_senders_file: Path | None = Field(
        default=None, description="TOML, YAML or JSON file of per-sender settings (docs/hl7v2.md)"
    )
    hl7_require_known_sender: bool = Field(
        default=False, description="Answer AR to senders (MSH-3^MSH-4) missing from hl7_senders_file"
    )
    hl7_retention_days: int | None = Field(
        default=None, ge=1, description="Prune processed HL7 messages older than this; unset = keep"
    )
    hl7_retention_max_bytes: int | None = Field(
        default=None, ge=1, description="Prune the oldest processed HL7 messages while the store is larger"
    )
    hl7_prune_interval_s: float = Field(
        default=3600.0, ge=0, description="How often the service prunes HL7 messages; 0 = never (CLI only)"
    )
    public_base_url: str | None = Field(
        default=None, description="External base URL used in Bundle links; default from the request"
    )

    # HTTP limits
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Larger request bodies get 413")

    # Keys. Files are created on first start when missing (dev); production mounts them read-only.
    data_keys_file: Path = Field(
        default=Path("./var/keys/data-keys.json"),
        description="JSON {active: kid, keys: {kid: base64 32-byte key}} for AES-256-GCM at rest",
    )
    blind_index_key_file: Path = Field(
        default=Path("./var/keys/blind-index.key"), description="HMAC-SHA256 key for blind indexes"
    )
    token_signing_key_file: Path = Field(
        default=Path("./var/keys/token-signing.key"), description="HMAC key that signs access tokens"
    )
    data_key: SecretStr | None = Field(
        default=None, description="Inline alternative to data_keys_file (base64 32 bytes, kid 'env')"
    )
    blind_index_key: SecretStr | None = Field(default=None, description="Inline alternative (base64)")
    token_signing_key: SecretStr | None = Field(default=None, description="Inline alternative (base64)")
    create_missing_keys: bool = Field(
        default=True, description="Generate key files on first start (turn off in production)"
    )

    # Tokens
    token_ttl_s: int = Field(default=3600, ge=60, le=86400)
    token_issuer: str = Field(default="dualcode", description="iss claim of issued tokens")
    token_failures_per_minute: int = Field(
        default=20, ge=1, description="Failed client authentications per source address before 429"
    )

    # Card platforms (the defaults point at the sandbox SIMULATOR that `make run` starts)
    cards_essc_base_url: str = Field(
        default="http://127.0.0.1:8090/essc", description="eSSC platform base URL (decode service)"
    )
    cards_ehc_base_url: str = Field(
        default="http://127.0.0.1:8090/ehc", description="EHC card-management platform base URL"
    )
    cards_nhsa_base_url: str = Field(
        default="http://127.0.0.1:8090/nhsa", description="NHSA platform base URL (1101, 6101)"
    )
    cards_timeout_s: float = Field(
        default=3.0, gt=0, description="A platform slower than this is unavailable"
    )
    cards_connect_timeout_s: float = Field(default=1.0, gt=0, description="TCP connect timeout to a platform")
    cards_retries: int = Field(default=2, ge=0, le=5, description="Extra attempts, idempotent calls only")
    cards_breaker_failure_threshold: int = Field(
        default=5, ge=1, description="Consecutive failures that open a platform's circuit"
    )
    cards_breaker_reset_s: float = Field(
        default=30.0, gt=0, description="How long an open circuit refuses calls before one trial"
    )
    cards_default_kind: str | None = Field(
        default=None, description="Kind of an opaque code (essc or nhsa) when its shape does not tell"
    )
    cards_hospital_code: str = Field(
        default="",
        description="This institution's code for the platforms (EHC hospital code, NHSA fixmedins)",
    )
    cards_static_code_ttl_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description=(
            "A static code (EHC `…:1`) verified this recently is answered without asking the platform "
            "again; a suspension then applies at most this late. 0 = ask on every scan"
        ),
    )
    cards_city_code: str = Field(default="371600", description="EHC city code (GB/T 2260)")
    cards_mdtrtarea_admvs: str = Field(default="371600", description="NHSA region of treatment")
    coverage_refresh_s: int = Field(
        default=86_400, ge=0, description="Re-ask NHSA 1101 for a person's insurance after this long"
    )
    scan_remembered_people: int = Field(
        default=8_192,
        ge=0,
        description=(
            "Known people whose last settled scan each process remembers (answered again after a "
            "version check; ~3.5 kB each); 0 = resolve every scan in full"
        ),
    )

    # Hospital systems: destinations file and the outbox dispatcher (docs/connectors.md)
    connectors_file: Path | None = Field(
        default=None, description="TOML file of hospital destinations; unset = no hospital is told anything"
    )
    outbox_dispatcher_enabled: bool = Field(
        default=True, description="Run the outbox dispatcher in this process (off: another process does)"
    )
    outbox_batch_size: int = Field(default=200, ge=1, le=5000, description="Events claimed per round")
    outbox_concurrency: int = Field(default=64, ge=1, le=1024, description="Deliveries in flight at once")
    outbox_poll_interval_s: float = Field(
        default=0.5, gt=0, description="How often an idle dispatcher looks for due events"
    )
    outbox_lease_s: float = Field(
        default=60.0, gt=0, description="A claimed event not settled by then is claimed again (crash)"
    )
    outbox_max_attempts: int = Field(
        default=12, ge=1, description="Delivery attempts before an event becomes a dead letter"
    )
    outbox_backoff_base_s: float = Field(
        default=1.0, gt=0, description="First retry delay (doubles each time)"
    )
    outbox_backoff_max_s: float = Field(default=300.0, gt=0, description="Longest retry delay")

    # Nucleic-acid sampling points (docs/sampling.md)
    sampling_round: str | None = Field(
        default=None, description="The testing campaign registrations belong to; unset = today's date"
    )
    sampling_tube_pattern: str = Field(
        default="[A-Za-z0-9]{8,20}", description="Regular expression a tube barcode must match whole"
    )
    sampling_max_batch_lines: int = Field(
        default=100_000, ge=1, description="Most lines in one offline batch upload"
    )
    sampling_clock_skew_s: float = Field(
        default=300.0, ge=0, description="Batch scan times further than this in the future are flagged"
    )

    # Logging
    log_level: str = "INFO"
    log_raw_hl7: bool = Field(default=False, description="Log raw PHI-bearing HL7 to its own logger")


def load_settings(env_file: str | None = None) -> Settings:
    """Build Settings from the environment, and from a dotenv-style file when one is given."""
    if env_file:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    return Settings()
