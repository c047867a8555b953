"""Where the card platforms are and how patiently to call them (one frozen value, from settings).

The real eSSC and EHC interface paths are not published; each client appends its path to the
configured base URL, so pointing a base URL at a real gateway is a configuration change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapter.cards.holder import CardKind
from adapter.settings import Settings


@dataclass(frozen=True)
class CardPlatformConfig:
    essc_base_url: str
    ehc_base_url: str
    nhsa_base_url: str
    timeout_s: float = 3.0  # whole-call read timeout; a platform slower than this is "unavailable"
    connect_timeout_s: float = 1.0
    retries: int = 2  # extra attempts, only for idempotent calls (queries, never code verifications)
    retry_backoff_s: float = 0.1  # doubled per attempt
    breaker_failure_threshold: int = 5  # consecutive failures that open a platform's circuit
    breaker_reset_s: float = 30.0  # how long an open circuit refuses calls before one trial
    retry_after_s: int = 5  # Retry-After hint sent with a timeout
    default_kind: CardKind | None = None  # kind of an opaque code (eSSC or NHSA QR); None = refuse
    code_prefixes: tuple[tuple[str, CardKind], ...] = ()  # opaque codes told apart by prefix, if known
    # The scanning institution and terminal, as the platforms want them (per-scan context overrides).
    hospital_code: str = ""  # EHC hospital code and NHSA fixmedins_code by default
    city_code: str = "371600"  # EHC city code
    mdtrtarea_admvs: str = "371600"  # NHSA: region of treatment
    scanner_id: str = "dualcode"
    channel: str = "01"  # EHC channel (unknown code list: configurable)
    operator: str = "dualcode"  # NHSA opter
    sign_no: str = ""  # NHSA sign-in number (9001), when the region requires one
    ehc_steps: tuple[tuple[str, str], ...] = field(default=())  # our step -> the EHC platform's code
    static_code_ttl_s: float = 0.0  # a static code verified this recently is not asked again (recent.py)

    @classmethod
    def for_sandbox(cls, url: str = "http://127.0.0.1:8090", **overrides: object) -> CardPlatformConfig:
        """Every platform at the dualcode sandbox (the SIMULATOR), e.g. for `make run` and tests."""
        base = url.rstrip("/")
        return cls(
            essc_base_url=f"{base}/essc",
            ehc_base_url=f"{base}/ehc",
            nhsa_base_url=f"{base}/nhsa",
            **overrides,  # type: ignore[arg-type]
        )


def card_platform_config(settings: Settings) -> CardPlatformConfig:
    """The platform configuration of a running service."""
    default_kind = settings.cards_default_kind
    if default_kind not in (None, "essc", "nhsa"):
        raise ValueError("DUALCODE_CARDS_DEFAULT_KIND must be essc or nhsa")
    return CardPlatformConfig(
        essc_base_url=settings.cards_essc_base_url,
        ehc_base_url=settings.cards_ehc_base_url,
        nhsa_base_url=settings.cards_nhsa_base_url,
        timeout_s=settings.cards_timeout_s,
        connect_timeout_s=settings.cards_connect_timeout_s,
        retries=settings.cards_retries,
        breaker_failure_threshold=settings.cards_breaker_failure_threshold,
        breaker_reset_s=settings.cards_breaker_reset_s,
        default_kind=default_kind,  # type: ignore[arg-type]  # checked above
        hospital_code=settings.cards_hospital_code,
        city_code=settings.cards_city_code,
        mdtrtarea_admvs=settings.cards_mdtrtarea_admvs,
        static_code_ttl_s=settings.cards_static_code_ttl_s,
    )
