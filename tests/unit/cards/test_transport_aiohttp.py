"""PlatformHttp's own sender (aiohttp, what the service uses) against a real HTTP server on loopback:
the answer, the body it sent, and each way a platform fails (slow, down, garbage, unreachable)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from adapter.cards import CardPlatformConfig, CardProblem, card_problem_of
from adapter.cards.transport import PlatformHttp
from adapter.errors import DualcodeError, PlatformRejected, UpstreamUnavailable

CONFIG = CardPlatformConfig.for_sandbox(
    retries=1, retry_backoff_s=0.0, breaker_failure_threshold=50, retry_after_s=7, timeout_s=0.3
)


@pytest.fixture
async def platform() -> AsyncIterator[tuple[str, list[object]]]:
    """A platform on a free loopback port; records the JSON bodies it received."""
    received: list[object] = []

    async def echo(request: web.Request) -> web.Response:
        received.append(json.loads(await request.read()))
        return web.json_response({"code": "0", "accept": request.headers.get("Accept")})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    async def down(_: web.Request) -> web.Response:
        return web.Response(status=503, text="down")

    async def html(_: web.Request) -> web.Response:
        return web.Response(text="<html>")

    async def bad(_: web.Request) -> web.Response:
        return web.json_response({"error": "bad"}, status=400)

    app = web.Application()
    for path, handler in (("echo", echo), ("slow", slow), ("down", down), ("html", html), ("bad", bad)):
        app.router.add_post(f"/ehc/{path}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/ehc", received
    finally:
        await runner.cleanup()


async def test_the_answer_and_the_body_sent(platform: tuple[str, list[object]]) -> None:
    url, received = platform
    http = PlatformHttp("ehc", url, CONFIG)
    try:
        body = {"ehcId": "16E1", "name": "欧阳娜娜"}
        assert await http.post_json("/echo", body, idempotent=False) == {
            "code": "0",
            "accept": "application/json",
        }
        assert await http.post_json("echo", body, idempotent=True) == {
            "code": "0",
            "accept": "application/json",
        }
        assert received == [body, body]
    finally:
        await http.aclose()


@pytest.mark.parametrize(
    ("path", "idempotent", "problem", "says"),
    [
        ("/slow", False, CardProblem.UNAVAILABLE, "no answer within 0.3 s"),
        ("/down", True, CardProblem.UNAVAILABLE, "HTTP 503"),
        ("/html", False, CardProblem.UNAVAILABLE, "not JSON"),
        ("/bad", False, CardProblem.REJECTED, "HTTP 400"),
    ],
)
async def test_failures(
    platform: tuple[str, list[object]], path: str, idempotent: bool, problem: CardProblem, says: str
) -> None:
    http = PlatformHttp("ehc", platform[0], CONFIG)
    try:
        with pytest.raises(DualcodeError) as error:
            await http.post_json(path, {}, idempotent=idempotent)
        assert card_problem_of(error.value) is problem and says in error.value.message
        if problem is CardProblem.UNAVAILABLE:
            assert isinstance(error.value, UpstreamUnavailable) and error.value.headers == {
                "Retry-After": "7"
            }
        else:
            assert isinstance(error.value, PlatformRejected)
    finally:
        await http.aclose()


async def test_an_unreachable_platform_is_unavailable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    http = PlatformHttp("nhsa", f"http://127.0.0.1:{port}/nhsa", CONFIG)
    try:
        with pytest.raises(UpstreamUnavailable) as error:
            await http.post_json("/1101", {}, idempotent=True)
        assert "unreachable" in error.value.message
    finally:
        await http.aclose()
