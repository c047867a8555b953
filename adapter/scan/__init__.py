"""A card is scanned: verify it with its platform, resolve the person in the patient index, give the
scanning institution its patient number, and keep the person's Coverage fresh."""

from adapter.scan.service import CardScanService, ScanRequest, ScanResult, VerifiedScan

__all__ = ["CardScanService", "ScanRequest", "ScanResult", "VerifiedScan"]
