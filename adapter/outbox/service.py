"""Build the dispatcher from Settings (the app lifespan and `dualcode outbox run` both use this)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from adapter.outbox.backoff import RetryPolicy
from adapter.outbox.dispatcher import Dispatcher, DispatcherOptions
from adapter.outbox.metrics import OutboxMetrics
from adapter.outbox.wakeup import OutboxWakeup
from adapter.settings import Settings
from adapter.storage.ports import Storage
from his_connectors import DestinationsConfig, load_destinations


def destinations_of(settings: Settings) -> DestinationsConfig:
    """The configured destinations; none when no file is set. ConfigError when the file is wrong."""
    if settings.connectors_file is None:
        return DestinationsConfig()
    return load_destinations(settings.connectors_file)


def build_dispatcher(
    settings: Settings, storage: Storage, registry: CollectorRegistry | None = None
) -> Dispatcher | None:
    """None without a destinations file: "*" events then wait, pending, until hospitals are configured
    (fanning them out to nobody would lose them for hospitals added later)."""
    if settings.connectors_file is None or not settings.outbox_dispatcher_enabled:
        return None
    return Dispatcher(
        storage,
        destinations_of(settings),
        policy=RetryPolicy(
            max_attempts=settings.outbox_max_attempts,
            base_s=settings.outbox_backoff_base_s,
            max_s=settings.outbox_backoff_max_s,
        ),
        options=DispatcherOptions(
            batch_size=settings.outbox_batch_size,
            concurrency=settings.outbox_concurrency,
            lease_s=settings.outbox_lease_s,
            poll_interval_s=settings.outbox_poll_interval_s,
        ),
        metrics=None if registry is None else OutboxMetrics(registry),
    )


def build_wakeup(settings: Settings, storage: Storage, dispatcher: Dispatcher | None) -> OutboxWakeup:
    """Wake dispatchers when outbox events commit: this process's directly, every process's over
    Redis when ``DUALCODE_REDIS_URL`` is set (this process then publishes, and subscribes when it runs
    a dispatcher). Call ``start()``, and ``stop()`` before the storage closes."""
    wakeup = OutboxWakeup(
        wake=None if dispatcher is None else dispatcher.wake,
        redis_url=None if settings.redis_url is None else settings.redis_url.get_secret_value(),
    )
    wakeup.attach(storage)
    return wakeup
