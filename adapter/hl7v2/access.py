"""Who may talk to the MLLP listener: TLS settings and an allow-list of peers.

An allow-list entry is an address (``10.1.2.3``), a CIDR block (``10.1.0.0/16``) or a client
certificate common name (``cn:his.example.org``, only meaningful when the listener asks for client
certificates). An empty list allows every peer. The same parser serves the listener-wide setting and
each sender's own list in the sender file.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapter.hl7v2.handler import Peer

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class AllowList:
    networks: tuple[Network, ...] = ()
    common_names: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """ValueError names the entry that is neither an address, a CIDR block nor ``cn:NAME``."""
        networks: list[Network] = []
        names: set[str] = set()
        for entry in (e.strip() for e in entries):
            if not entry:
                continue
            if entry.lower().startswith("cn:"):
                names.add(entry[3:].strip())
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(
                    f"allow-list entry {entry!r} is not an address, CIDR block or cn:NAME"
                ) from None
        return cls(tuple(networks), frozenset(names))

    @property
    def empty(self) -> bool:
        return not self.networks and not self.common_names

    def allows(self, peer: Peer) -> bool:
        if self.empty:
            return True
        if peer.common_name is not None and peer.common_name in self.common_names:
            return True
        address = _address(peer.host)
        return address is not None and any(address in network for network in self.networks)


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    # A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; compare them as IPv4.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def tls_context(
    cert_file: Path | None, key_file: Path | None, client_ca_file: Path | None
) -> ssl.SSLContext | None:
    """The listener's TLS context (TLS 1.2+), or None for plain TCP. With a client CA file, clients
    must present a certificate signed by it (their CN can then be allow-listed)."""
    if cert_file is None and key_file is None:
        if client_ca_file is not None:
            raise ValueError("mllp_tls_client_ca_file needs mllp_tls_cert_file and mllp_tls_key_file")
        return None
    if cert_file is None or key_file is None:
        raise ValueError("TLS needs both mllp_tls_cert_file and mllp_tls_key_file")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file is not None:
        context.load_verify_locations(cafile=client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def common_name(peercert: Any) -> str | None:
    """The subject CN of a verified peer certificate (``SSLObject.getpeercert()``), if any."""
    if not isinstance(peercert, dict):
        return None
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None
