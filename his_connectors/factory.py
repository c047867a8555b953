"""Destination (from the destinations file) -> a Connector."""

from __future__ import annotations

from urllib.parse import urlparse

from his_connectors.base import Connector
from his_connectors.config import Destination
from his_connectors.fhir_rest import FhirRestConnector
from his_connectors.mllp import MllpConnector
from his_connectors.profiles import load_profile
from his_connectors.sql_table import SqlTableConnector
from his_connectors.webhook import WebhookConnector


def open_connector(destination: Destination) -> Connector:
    d = destination
    if d.connector == "mllp":
        parsed = urlparse(d.endpoint)
        return MllpConnector(
            parsed.hostname or "127.0.0.1",
            parsed.port or 2575,
            timeout_s=d.timeout_s,
            encoding=d.encoding,
            hl7_version=d.hl7_version,
            profile=load_profile(d.profile),
        )
    if d.connector == "fhir_rest":
        return FhirRestConnector(d.endpoint, timeout_s=d.timeout_s)
    if d.connector == "webhook":
        return WebhookConnector(d.endpoint, d.secret or "", timeout_s=d.timeout_s)
    return SqlTableConnector(
        d.endpoint,
        table=d.table,
        inbound=d.inbound_table,
        create_tables=d.create_tables,
        timeout_s=d.timeout_s,
    )
