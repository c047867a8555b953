"""Nucleic-acid sampling points: people bound to pooled tubes by one scan (docs/sampling.md)."""

from adapter.sampling.service import SamplingService
from adapter.sampling.values import Registered, RegistrationRequest

__all__ = ["Registered", "RegistrationRequest", "SamplingService"]
