"""Reading and writing FHIR Parameters (the in and out of operations)."""

from __future__ import annotations

from typing import Any

from adapter.errors import InvalidRequest


class ParametersIn:
    """A validated Parameters body, read by name and value type."""

    def __init__(self, body: Any) -> None:
        if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
            raise InvalidRequest("the body must be a FHIR Parameters resource", expression=("Parameters",))
        self._parts: list[dict[str, Any]] = [p for p in body.get("parameter", []) if isinstance(p, dict)]

    def _all(self, name: str) -> list[dict[str, Any]]:
        return [p for p in self._parts if p.get("name") == name]

    def _one(self, name: str, value_key: str, *, required: bool) -> Any:
        found = self._all(name)
        if len(found) > 1:
            raise InvalidRequest(f"parameter {name} may appear once", expression=(f"Parameters.{name}",))
        if not found or value_key not in found[0]:
            if required:
                raise InvalidRequest(
                    f"parameter {name} ({value_key}) is required", expression=(f"Parameters.{name}",)
                )
            return None
        return found[0][value_key]

    def string(self, name: str, *, required: bool = False) -> str | None:
        value = self._one(name, "valueString", required=required)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InvalidRequest(
                f"parameter {name} must be a non-empty string", expression=(f"Parameters.{name}",)
            )
        return value

    def code(self, name: str, allowed: frozenset[str], *, required: bool = False) -> str | None:
        value = self._one(name, "valueCode", required=required)
        if value is None:
            return None
        if not isinstance(value, str) or value not in allowed:
            choices = ", ".join(sorted(allowed))
            raise InvalidRequest(
                f"parameter {name} must be one of {choices}", expression=(f"Parameters.{name}",)
            )
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self._one(name, "valueBoolean", required=False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise InvalidRequest(f"parameter {name} must be a boolean", expression=(f"Parameters.{name}",))
        return value

    def integer(self, name: str, default: int, *, low: int = 1, high: int = 100) -> int:
        value = self._one(name, "valueInteger", required=False)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise InvalidRequest(
                f"parameter {name} must be {low}..{high}", expression=(f"Parameters.{name}",)
            )
        return value

    def reference(self, name: str, resource_type: str, *, required: bool = False) -> str | None:
        """The id inside a ``Type/id`` reference."""
        value = self._one(name, "valueReference", required=required)
        if value is None:
            return None
        reference = value.get("reference", "") if isinstance(value, dict) else ""
        kind, _, resource_id = reference.partition("/")
        if kind != resource_type or not resource_id:
            raise InvalidRequest(
                f"parameter {name} must reference a {resource_type}", expression=(f"Parameters.{name}",)
            )
        return resource_id

    def resource(self, name: str, resource_type: str, *, required: bool = False) -> dict[str, Any] | None:
        found = self._all(name)
        if not found or "resource" not in found[0]:
            if required:
                raise InvalidRequest(
                    f"parameter {name} (a {resource_type}) is required", expression=(f"Parameters.{name}",)
                )
            return None
        resource = found[0]["resource"]
        if not isinstance(resource, dict) or resource.get("resourceType") != resource_type:
            raise InvalidRequest(
                f"parameter {name} must hold a {resource_type}", expression=(f"Parameters.{name}",)
            )
        return resource


def parameters(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [p for p in parts if p]}


def part(name: str, **value: Any) -> dict[str, Any]:
    return {"name": name, **value}
