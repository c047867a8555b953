"""Outbound edges to hospital systems, one module per transport. Never imports adapter.

connector = open_connector(destination)          # from load_destinations(path)
receipt = await connector.deliver(envelope)      # Receipt(delivered, detail, ...)
"""

from his_connectors.base import Connector, Envelope, Health, Receipt, RenderError
from his_connectors.config import (
    CONNECTOR_KINDS,
    ConfigError,
    Destination,
    DestinationsConfig,
    Hospital,
    load_destinations,
    parse_destinations,
)
from his_connectors.factory import open_connector
from his_connectors.profiles import VendorProfile, available_profiles, load_profile

__all__ = [
    "CONNECTOR_KINDS",
    "ConfigError",
    "Connector",
    "Destination",
    "DestinationsConfig",
    "Envelope",
    "Health",
    "Hospital",
    "Receipt",
    "RenderError",
    "VendorProfile",
    "available_profiles",
    "load_destinations",
    "load_profile",
    "open_connector",
    "parse_destinations",
]
