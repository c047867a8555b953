"""The SIMULATOR app: eSSC, EHC and NHSA platform simulators over one synthetic population.

Every response carries `X-Simulator: dualcode-sandbox`, so nobody mistakes it for a real platform.
"""

from __future__ import annotations

import sys

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from sandbox import control, ehc, essc, his, nhsa
from sandbox.calls import SimulatorApp, outage_answer
from sandbox.codes import Clock, utc_now
from sandbox.config import SandboxConfig
from sandbox.faults import SimulatedOutage
from sandbox.state import SandboxState


def create_app(config: SandboxConfig | None = None, *, clock: Clock = utc_now) -> SimulatorApp:
    app = SimulatorApp(
        title="dualcode sandbox (SIMULATOR)",
        description="Simulators of eSSC, EHC, NHSA and a HIS; synthetic people. Not real systems.",
    )
    app.state.sandbox = SandboxState.start(config or SandboxConfig(), clock=clock)
    for router in (control.page_router, control.router, essc.router, ehc.router, nhsa.router, his.router):
        app.include_router(router)
    app.serve_calls([*essc.CALLS, *ehc.CALLS, *nhsa.CALLS])  # answered before FastAPI's routing
    config = config or SandboxConfig()
    app.state.his, app.state.his_webhook_secret, app.state.his_mllp = (
        his.HisState(),
        config.his_webhook_secret,
        None,
    )
    if config.his_mllp_port is not None:  # the simulated HIS's MLLP receiver, on its own thread
        try:
            receiver = his.BackgroundHisMllp(app.state.his, config.his_mllp_host, config.his_mllp_port)
            app.state.his_mllp = receiver.start()
        except OSError as error:  # the platforms still serve; say plainly that the HIS does not
            print(
                f"simulated HIS: MLLP receiver OFF, port {config.his_mllp_port}: {error.strerror}",
                file=sys.stderr,
            )

    @app.exception_handler(SimulatedOutage)
    async def outage(request: Request, error: SimulatedOutage) -> Response:
        return JSONResponse(outage_answer(error), status_code=503)

    return app
