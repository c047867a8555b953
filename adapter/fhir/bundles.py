"""Bundles and HTTP metadata (ETag, Last-Modified, Location) for stored resources."""

from __future__ import annotations

from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from adapter.storage.records import StoredResource


def resource_headers(base_url: str, stored: StoredResource, *, location: bool = False) -> dict[str, str]:
    headers = {
        "ETag": f'W/"{stored.version_id}"',
        "Last-Modified": format_datetime(stored.last_updated, usegmt=True),
    }
    if location:
        headers["Location"] = f"{base_url}/{stored.resource_type}/{stored.id}/_history/{stored.version_id}"
    return headers


def searchset(
    base_url: str,
    resource_type: str,
    query: tuple[tuple[str, str], ...],
    results: list[dict[str, Any]],
    *,
    count: int,
    offset: int,
    has_more: bool,
) -> dict[str, Any]:
    def link(relation: str, at: int) -> dict[str, str]:
        pairs = [(k, v) for k, v in query if k not in {"_count", "_offset"}]
        pairs += [("_count", str(count)), ("_offset", str(at))]
        return {"relation": relation, "url": f"{base_url}/{resource_type}?{urlencode(pairs)}"}

    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [link("self", offset)],
        "entry": [
            {
                "fullUrl": f"{base_url}/{body['resourceType']}/{body['id']}",
                "resource": body,
                "search": {"mode": "match"},
            }
            for body in results
        ],
    }
    if has_more:
        bundle["link"].append(link("next", offset + count))
    else:
        bundle["total"] = offset + len(results)
    if not bundle["entry"]:
        del bundle["entry"]
    return bundle


def history(base_url: str, versions: list[StoredResource]) -> dict[str, Any]:
    entries = []
    for stored in versions:
        entry: dict[str, Any] = {
            "fullUrl": f"{base_url}/{stored.resource_type}/{stored.id}",
            "request": {
                "method": "POST" if stored.version_id == 1 else "PUT",
                "url": stored.resource_type
                if stored.version_id == 1
                else f"{stored.resource_type}/{stored.id}",
            },
            "response": {
                "status": "201 Created" if stored.version_id == 1 else "200 OK",
                "etag": f'W/"{stored.version_id}"',
                "lastModified": stored.last_updated.isoformat(),
            },
        }
        if not stored.deleted:
            entry["resource"] = stored.body
        entries.append(entry)
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "history", "total": len(entries)}
    if entries:
        bundle["entry"] = entries
    return bundle
