"""Security building blocks: masking, JSON logs, client secrets, scopes, tokens, clients, audit."""

from adapter.security.audit import Auditor, audit_event
from adapter.security.clients import ClientRegistry, client_credentials_from
from adapter.security.logging import RAW_HL7_LOGGER, configure_logging, raw_hl7_logger, request_id_var
from adapter.security.masking import mask_id_number, mask_name, mask_phone, mask_text
from adapter.security.passwords import dummy_verify, generate_secret, hash_secret, verify_secret
from adapter.security.scopes import (
    ADMIN_SCOPE,
    ROLE_SCOPES,
    ROLES,
    SAMPLING_SCOPE,
    allows,
    narrow_scopes,
    parse_scope,
    scopes_for_roles,
    validate_roles,
)
from adapter.security.tokens import IssuedToken, TokenClaims, TokenService

__all__ = [
    "ADMIN_SCOPE",
    "RAW_HL7_LOGGER",
    "ROLES",
    "ROLE_SCOPES",
    "SAMPLING_SCOPE",
    "Auditor",
    "ClientRegistry",
    "IssuedToken",
    "TokenClaims",
    "TokenService",
    "allows",
    "audit_event",
    "client_credentials_from",
    "configure_logging",
    "dummy_verify",
    "generate_secret",
    "hash_secret",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "mask_text",
    "narrow_scopes",
    "parse_scope",
    "raw_hl7_logger",
    "request_id_var",
    "scopes_for_roles",
    "validate_roles",
    "verify_secret",
]
