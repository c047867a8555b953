"""A recording connector and helpers for dispatcher tests (synthetic data)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from adapter.storage import Storage
from his_connectors import Envelope, Health, Receipt, parse_destinations


class RecordingConnector:
    def __init__(self, answer: Callable[[Envelope], Receipt] | None = None, delay_s: float = 0.0) -> None:
        self.received: list[Envelope] = []
        self.answer = answer or (lambda envelope: Receipt.ok(envelope.control_id))
        self.delay_s = delay_s
        self.closed = False

    async def deliver(self, envelope: Envelope) -> Receipt:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        self.received.append(envelope)
        return self.answer(envelope)

    async def health(self) -> Health:
        return Health(True)

    async def close(self) -> None:
        self.closed = True


def two_hospitals(topics_b: tuple[str, ...] = ("patient.merged",)) -> object:
    return parse_destinations(
        {
            "hospitals": {
                "H1": {
                    "destinations": [{"name": "adt", "connector": "mllp", "endpoint": "mllp://127.0.0.1:9"}]
                },
                "H2": {
                    "destinations": [
                        {
                            "name": "adt",
                            "connector": "mllp",
                            "endpoint": "mllp://127.0.0.1:9",
                            "topics": list(topics_b),
                        }
                    ]
                },
            }
        }
    )


async def publish(storage: Storage, patient: int, topic: str = "patient.updated", n: int = 0) -> str:
    async with storage.unit_of_work() as uow:
        event = await uow.outbox.add(
            topic=topic,
            destination="*",
            ordering_key=f"Patient/p{patient}",
            payload={"patient": f"Patient/p{patient}", "n": n},
        )
    return event.id
