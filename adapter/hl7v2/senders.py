"""Per-sender configuration: a small frozen table loaded once, at start-up, from a TOML/YAML/JSON file.

A sender is keyed ``MSH-3^MSH-4`` (application^facility; their first components, the namespace ids,
as sent). A file looks like::

    [senders."HIS^H001"]
    charset = "gbk"                          # when MSH-18 is empty (many HIS send GBK silently)
    ack_mode = "original"                    # auto | original | enhanced
    allowed = ["10.1.2.0/24", "cn:his.h001"] # addresses, CIDR blocks, client certificate CNs
    hospital_code = "H001"                   # MR/PI numbers without CX.4 are this hospital's
    identifier_types = { "PI@H001" = "outpatient-number", "MedCard" = "ssc-card-number" }
    z_segments = { ZPI = "urn:example:zpi" } # kept as an extension instead of being reported

The last three make the sender's ``SenderProfile`` for mappings.v2_to_fhir (``SenderConfig.profile``).

Unknown keys are refused (a typo must not silently turn a setting off). Senders missing from the file
get the listener defaults, or AR "not allowed" when ``hl7_require_known_sender`` is on.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from adapter.errors import SenderNotAllowed
from adapter.hl7v2.access import AllowList
from adapter.hl7v2.charsets import resolve_default
from adapter.hl7v2.handler import Peer
from mappings.v2_to_fhir import DEFAULT_PROFILE, SenderProfile

ACK_MODES = frozenset({"auto", "original", "enhanced"})
_KEYS = frozenset(
    {"charset", "ack_mode", "allowed", "description", "hospital_code", "identifier_types", "z_segments"}
)


@dataclass(frozen=True, slots=True)
class SenderConfig:
    key: str  # MSH-3^MSH-4
    codec: str  # Python codec used when MSH-18 is empty
    ack_mode: str = "auto"  # auto: as MSH-15/16 say; original: ignore them; enhanced: AL where empty
    allowed: AllowList = field(default_factory=AllowList)
    known: bool = True  # False for the defaults given to a sender that is not in the file
    # How the mappings read this sender (hospital code, CX.5 overrides, Z-segments). An empty hospital
    # code means MSH-4.1 (see adapter.hl7v2.handlers.parsed.sender_profile).
    profile: SenderProfile = DEFAULT_PROFILE


def sender_key(application: str, facility: str, component_sep: str = "^") -> str:
    """``MSH-3.1^MSH-4.1``: the namespace ids, so an OID added later to MSH-4 keeps the key."""
    return f"{application.split(component_sep, 1)[0]}^{facility.split(component_sep, 1)[0]}"


_UNKNOWN_KEPT = 1024


class SenderTable:
    """Lookup of sender settings; ``check`` enforces the sender's own allow-list."""

    def __init__(
        self,
        senders: Mapping[str, SenderConfig] | None = None,
        *,
        default_codec: str = "utf-8",
        require_known: bool = False,
    ) -> None:
        self._senders = MappingProxyType(dict(senders or {}))
        self._codecs = frozenset(config.codec for config in self._senders.values())
        self._default_codec = default_codec
        self._require_known = require_known
        self._unknown: dict[str, SenderConfig] = {}

    @property
    def senders(self) -> Mapping[str, SenderConfig]:
        return self._senders

    @property
    def default_codec(self) -> str:
        return self._default_codec

    @property
    def codecs(self) -> frozenset[str]:
        """Every charset some configured sender uses."""
        return self._codecs

    def lookup(self, key: str) -> SenderConfig:
        found = self._senders.get(key)
        if found is not None:
            return found
        # The defaults of a sender not in the file, one (frozen) object per key: what is derived
        # from a config (its mapping profile) is then derived once. Bounded: any MSH-3/4 may come.
        unknown = self._unknown.get(key)
        if unknown is None:
            if len(self._unknown) >= _UNKNOWN_KEPT:
                self._unknown.clear()
            unknown = self._unknown[key] = SenderConfig(key=key, codec=self._default_codec, known=False)
        return unknown

    def check(self, config: SenderConfig, peer: Peer | None) -> None:
        """SenderNotAllowed when the sender is unknown (and must be known) or the peer is not on its
        allow-list. ``peer`` None (a replay from the store) is always allowed."""
        if peer is None:
            return
        if not config.known and self._require_known:
            raise SenderNotAllowed("this sender is not configured on this listener")
        if not config.allowed.allows(peer):
            raise SenderNotAllowed("this sender is not allowed from this address")


def load_senders(
    path: Path | None, *, default_codec: str = "utf-8", require_known: bool = False
) -> SenderTable:
    """Read the sender file (by extension: .toml, .yaml/.yml, .json). ValueError explains a bad file."""
    if path is None:
        return SenderTable(default_codec=default_codec, require_known=require_known)
    document = _read(path)
    section = document.get("senders", {})
    if not isinstance(section, dict):
        raise ValueError(f"{path}: 'senders' must be a table of sender keys")
    senders = {str(key): _config(str(key), value, path) for key, value in section.items()}
    return SenderTable(senders, default_codec=default_codec, require_known=require_known)


def _read(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        document: Any = tomllib.loads(text)
    elif suffix in (".yaml", ".yml"):
        import yaml  # installed with uvicorn[standard]; imported only for YAML files

        document = yaml.safe_load(text) or {}
    elif suffix == ".json":
        document = json.loads(text)
    else:
        raise ValueError(f"{path}: the sender file must end in .toml, .yaml, .yml or .json")
    if not isinstance(document, dict):
        raise ValueError(f"{path}: the top level must be a table")
    return document


def _config(key: str, value: Any, path: Path) -> SenderConfig:
    if "^" not in key:
        raise ValueError(f"{path}: sender key {key!r} must be MSH-3^MSH-4 (application^facility)")
    if not isinstance(value, dict):
        raise ValueError(f"{path}: sender {key!r} must be a table")
    unknown = set(value) - _KEYS
    if unknown:
        raise ValueError(f"{path}: sender {key!r} has unknown settings {sorted(unknown)}")
    ack_mode = str(value.get("ack_mode", "auto"))
    if ack_mode not in ACK_MODES:
        raise ValueError(f"{path}: sender {key!r}: ack_mode must be one of {sorted(ACK_MODES)}")
    allowed = value.get("allowed", [])
    if not isinstance(allowed, list):
        raise ValueError(f"{path}: sender {key!r}: allowed must be a list")
    try:
        codec = resolve_default(str(value.get("charset", "utf-8")))
        allow_list = AllowList.parse(str(entry) for entry in allowed)
    except ValueError as exc:
        raise ValueError(f"{path}: sender {key!r}: {exc}") from None
    return SenderConfig(
        key=key, codec=codec, ack_mode=ack_mode, allowed=allow_list, profile=_profile(key, value, path)
    )


def _profile(key: str, value: dict[str, Any], path: Path) -> SenderProfile:
    tables: dict[str, dict[str, str]] = {}
    for name in ("identifier_types", "z_segments"):
        table = value.get(name, {})
        if not isinstance(table, dict):
            raise ValueError(f"{path}: sender {key!r}: {name} must be a table")
        tables[name] = {str(k): str(v) for k, v in table.items()}
    try:
        return SenderProfile(
            hospital_code=str(value.get("hospital_code", "")),
            identifier_types=tables["identifier_types"],
            z_segments=tables["z_segments"],
        )
    except ValueError as exc:
        raise ValueError(f"{path}: sender {key!r}: {exc}") from None
