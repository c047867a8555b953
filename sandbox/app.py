"""The SIMULATOR app: eSSC, EHC and NHSA platform simulators over one synthetic population.

Every response carries `X-Simulator: dualcode-sandbox`, so nobody mistakes it for a real platform.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from sandbox import control, ehc, essc, his, nhsa
from sandbox.codes import Clock, utc_now
from sandbox.config import SandboxConfig
from sandbox.faults import SimulatedOutage
from sandbox.state import SIMULATOR_HEADER, SandboxState


def create_app(config: SandboxConfig | None = None, *, clock: Clock = utc_now) -> FastAPI:
    app = FastAPI(
        title="dualcode sandbox (SIMULATOR)",
        description="Simulators of eSSC, EHC, NHSA and a HIS; synthetic people. Not real systems.",
    )
    app.state.sandbox = SandboxState.start(config or SandboxConfig(), clock=clock)
    for router in (control.page_router, control.router, essc.router, ehc.router, nhsa.router, his.router):
        app.include_router(router)
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

    @app.middleware("http")
    async def mark_as_simulator(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers[SIMULATOR_HEADER[0]] = SIMULATOR_HEADER[1]
        return response

    @app.exception_handler(SimulatedOutage)
    async def outage(request: Request, error: SimulatedOutage) -> Response:
        return JSONResponse(
            {"error": "simulated outage", "platform": error.platform},
            status_code=503,
            headers={SIMULATOR_HEADER[0]: SIMULATOR_HEADER[1]},
        )

    return app
