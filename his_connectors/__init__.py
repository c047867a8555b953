"""Outbound edges to hospital systems, one module per transport. Never imports adapter."""
