"""The destinations file (TOML): per hospital code, where and how its HIS hears of events.

    [hospitals.H0001]
    name = "Demo hospital"
    [[hospitals.H0001.destinations]]
    name = "adt"                       # destination code "H0001:adt" in the outbox
    connector = "mllp"                 # mllp | fhir_rest | webhook | sql_table
    endpoint = "mllp://127.0.0.1:2576"
    topics = ["patient.*"]             # fnmatch patterns of event topics
    encoding = "utf-8"                 # or gbk / gb18030
    hl7_version = "2.5"
    profile = "default"                # his_connectors/profiles/<name>.toml

Full reference: docs/connectors.md. Parsed into frozen values; every mistake is reported with where
it is, and nothing here opens a connection.
"""

from __future__ import annotations

import codecs
import fnmatch
import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urlparse

from his_connectors.profiles import ProfileError, load_profile

ConnectorKind = Literal["mllp", "fhir_rest", "webhook", "sql_table"]
CONNECTOR_KINDS: tuple[ConnectorKind, ...] = ("mllp", "fhir_rest", "webhook", "sql_table")
HL7_VERSIONS = ("2.3.1", "2.4", "2.5", "2.5.1")
_SCHEMES: Mapping[str, tuple[str, ...]] = {
    "mllp": ("mllp", "tcp"),
    "fhir_rest": ("http", "https"),
    "webhook": ("http", "https"),
    "sql_table": ("sqlite+aiosqlite", "postgresql+asyncpg", "mysql+aiomysql"),
}
_KEYS = {"name", "connector", "endpoint", "topics", "encoding", "hl7_version", "profile", "timeout_s",
         "secret", "secret_file", "table", "inbound_table", "create_tables", "enabled"}  # fmt: skip


@functools.cache
def _v2_topics(profile: str) -> frozenset[str]:
    return frozenset(load_profile(profile).events)


class ConfigError(ValueError):
    """The destinations file is wrong; the message says where."""


@dataclass(frozen=True, slots=True)
class Destination:
    hospital: str
    name: str
    connector: ConnectorKind
    endpoint: str
    topics: tuple[str, ...] = ("patient.*",)
    encoding: str = "utf-8"
    hl7_version: str = "2.5"
    profile: str = "default"
    timeout_s: float = 10.0
    secret: str | None = field(default=None, repr=False)  # webhook HMAC key
    table: str = "dualcode_outbound"
    inbound_table: str | None = None
    create_tables: bool = False  # dev and tests only: a real HIS owns its schema
    enabled: bool = True

    @property
    def code(self) -> str:
        """How the outbox names it."""
        return f"{self.hospital}:{self.name}"

    def wants(self, topic: str) -> bool:
        if not (self.enabled and any(fnmatch.fnmatchcase(topic, pattern) for pattern in self.topics)):
            return False
        # An MLLP destination hears only what its profile has an HL7 message for: a pattern such
        # as "pharmacy.*" must not hand it events (pharmacy.prescribed) that could only dead-letter.
        return self.connector != "mllp" or topic in _v2_topics(self.profile)

    def public(self) -> dict[str, Any]:
        """For listings: everything but the secret, and the endpoint without a password."""
        parsed = urlparse(self.endpoint)
        endpoint = self.endpoint
        if parsed.password:
            endpoint = endpoint.replace(f":{parsed.password}@", ":***@")
        return {
            "code": self.code, "name": self.name, "connector": self.connector, "endpoint": endpoint,
            "topics": list(self.topics), "encoding": self.encoding, "hl7_version": self.hl7_version,
            "profile": self.profile, "enabled": self.enabled,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Hospital:
    code: str
    name: str
    destinations: tuple[Destination, ...]


@dataclass(frozen=True, slots=True)
class DestinationsConfig:
    hospitals: Mapping[str, Hospital] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def destinations(self) -> tuple[Destination, ...]:
        return tuple(d for h in self.hospitals.values() for d in h.destinations)

    def by_code(self) -> dict[str, Destination]:
        return {d.code: d for d in self.destinations}

    def subscribers(self, topic: str) -> list[Destination]:
        return [d for d in self.destinations if d.wants(topic)]


def load_destinations(path: Path) -> DestinationsConfig:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    return parse_destinations(data, base=path.parent)


def parse_destinations(data: Mapping[str, Any], *, base: Path = Path(".")) -> DestinationsConfig:
    extra = set(data) - {"hospitals"}
    if extra:
        raise ConfigError(f"unknown top-level keys {sorted(extra)} (only [hospitals.CODE])")
    hospitals: dict[str, Hospital] = {}
    for code, body in dict(data.get("hospitals", {})).items():
        if not code or not str(code).replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"hospital code {code!r}: letters, digits, - and _ only")
        if not isinstance(body, dict):
            raise ConfigError(f"hospitals.{code} must be a table")
        items = body.get("destinations", [])
        destinations = tuple(_destination(code, i, item, base) for i, item in enumerate(items))
        names = [d.name for d in destinations]
        if len(set(names)) != len(names):
            raise ConfigError(f"hospitals.{code}: destination names must be unique")
        hospitals[code] = Hospital(code, str(body.get("name", code)), destinations)
    return DestinationsConfig(MappingProxyType(hospitals))


def _destination(hospital: str, index: int, item: object, base: Path) -> Destination:
    where = f"hospitals.{hospital}.destinations[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(item) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    kind = item.get("connector")
    if kind not in CONNECTOR_KINDS:
        raise ConfigError(f"{where}.connector must be one of {', '.join(CONNECTOR_KINDS)}")
    endpoint = str(item.get("endpoint", ""))
    scheme = endpoint.split("://", 1)[0] if "://" in endpoint else ""
    if scheme not in _SCHEMES[kind]:
        raise ConfigError(f"{where}.endpoint must start with one of {', '.join(_SCHEMES[kind])}://")
    encoding = str(item.get("encoding", "utf-8")).lower()
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(f"{where}.encoding {encoding!r} is not a known encoding") from None
    version = str(item.get("hl7_version", "2.5"))
    if version not in HL7_VERSIONS:
        raise ConfigError(f"{where}.hl7_version must be one of {', '.join(HL7_VERSIONS)}")
    profile = str(item.get("profile", "default"))
    try:
        load_profile(profile)
    except ProfileError as error:
        raise ConfigError(f"{where}: {error}") from None
    topics = item.get("topics", ["patient.*"])
    if not isinstance(topics, list) or not topics or not all(isinstance(t, str) for t in topics):
        raise ConfigError(f"{where}.topics must be a non-empty list of strings")
    timeout = item.get("timeout_s", 10.0)
    if not isinstance(timeout, int | float) or not 0 < timeout <= 300:
        raise ConfigError(f"{where}.timeout_s must be a number of seconds in (0, 300]")
    name = str(item.get("name", kind))
    if ":" in name or not name:
        raise ConfigError(f"{where}.name must be non-empty and without ':'")
    if kind == "webhook" and not (item.get("secret") or item.get("secret_file")):
        raise ConfigError(f"{where}: a webhook needs secret_file (or secret) to sign with")
    return Destination(
        hospital=hospital,
        name=name,
        connector=kind,
        endpoint=endpoint,
        topics=tuple(topics),
        encoding=encoding,
        hl7_version=version,
        profile=profile,
        timeout_s=float(timeout),
        secret=_secret(item, base, where),
        table=_identifier(item.get("table", "dualcode_outbound"), f"{where}.table"),
        inbound_table=_inbound(item, where),
        create_tables=bool(item.get("create_tables", False)),
        enabled=bool(item.get("enabled", True)),
    )


def _secret(item: Mapping[str, Any], base: Path, where: str) -> str | None:
    if item.get("secret_file"):
        path = Path(str(item["secret_file"]))
        try:
            return (path if path.is_absolute() else base / path).read_text(encoding="utf-8").strip()
        except OSError:
            raise ConfigError(f"{where}.secret_file cannot be read") from None
    return None if item.get("secret") is None else str(item["secret"])


def _inbound(item: Mapping[str, Any], where: str) -> str | None:
    value = item.get("inbound_table")
    return None if value is None else _identifier(value, f"{where}.inbound_table")


def _identifier(value: object, where: str) -> str:
    # Table names go into SQL text: plain identifiers only.
    text = str(value)
    if not text or not text.replace("_", "").isalnum() or not text[0].isalpha():
        raise ConfigError(f"{where} must be a plain SQL identifier")
    return text
