"""A SIMULATED hospital information system (HIS): MLLP, FHIR and webhook receivers that record what
they are sent and can be told to refuse, time out or go away. For demos and tests; not a real HIS."""

from sandbox.his.mllp import BackgroundHisMllp, HisMllpServer
from sandbox.his.routes import router
from sandbox.his.state import HIS_MODES, HisMode, HisState, Received

__all__ = ["HIS_MODES", "BackgroundHisMllp", "HisMllpServer", "HisMode", "HisState", "Received", "router"]
