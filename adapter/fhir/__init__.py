"""The FHIR R4 API: a framework-free core (core.py) over the storage port, and thin FastAPI routes."""
