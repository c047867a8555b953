"""Card platforms: tell a scanned code's kind, verify it with its platform (eSSC, EHC, NHSA) or read
it offline (SSC reader line), and get one CardHolder behind one protocol."""

from adapter.cards.breaker import BreakerState, CircuitBreaker, CircuitOpenError
from adapter.cards.config import CardPlatformConfig
from adapter.cards.context import ScanContext, Step
from adapter.cards.detect import detect_kind
from adapter.cards.ehc import EhcClient
from adapter.cards.errors import CardProblem, card_error, card_problem_of
from adapter.cards.essc import EsscClient
from adapter.cards.holder import (
    CARD_KINDS,
    CardHolder,
    CardKind,
    Insurance,
    Source,
    SourcedIdentifier,
    TransientToken,
)
from adapter.cards.nhsa import NhsaClient
from adapter.cards.platforms import CardPlatforms
from adapter.cards.protocol import CardPlatform
from adapter.cards.ssc_reader import SscReader

__all__ = [
    "CARD_KINDS",
    "BreakerState",
    "CardHolder",
    "CardKind",
    "CardPlatform",
    "CardPlatformConfig",
    "CardPlatforms",
    "CardProblem",
    "CircuitBreaker",
    "CircuitOpenError",
    "EhcClient",
    "EsscClient",
    "Insurance",
    "NhsaClient",
    "ScanContext",
    "Source",
    "SourcedIdentifier",
    "SscReader",
    "Step",
    "TransientToken",
    "card_error",
    "card_problem_of",
    "detect_kind",
]
