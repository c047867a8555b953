"""dualcode service: every inbound edge (FHIR REST, MLLP), the domain services and the storage ports."""
