"""Bounds over the real server process (docs/limits.md): a subscription's operation name is
bounded as over HTTP, a WebSocket message over the body limit closes the connection (1009), a
request head (line and headers) that does not fit what the server buffers is refused."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from alliance_devstack.processes import ServiceProcess
from tests.helpers import bearer

BODY_LIMIT = 1_048_576  # ALLIANCE_MAX_BODY_BYTES, the default


async def test_websocket_operations_and_messages_are_bounded(
    services: dict[str, ServiceProcess],
) -> None:
    url = services["gateway"].url.replace("http", "ws") + "/graphql"
    token = bearer("supervisor", ["clinic-ws-limit"])["Authorization"]
    async with websockets.connect(
        url, subprotocols=[Subprotocol("graphql-transport-ws")], max_size=None
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": token}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        named = "subscription " + "N" * 129 + " { alertNotices { kind } }"
        await ws.send(json.dumps({"id": "0", "type": "subscribe", "payload": {"query": named}}))
        refused = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert refused["type"] == "error", refused
        assert refused["payload"][0]["message"] == "operation name: must be at most 128 characters"
        oversize = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": "subscription { alertNotices { kind } }", "pad": "x" * BODY_LIMIT},
        }
        await ws.send(json.dumps(oversize))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009  # message too big


async def test_an_oversize_request_head_is_refused(services: dict[str, ServiceProcess]) -> None:
    """A GET whose query string is 256 KiB, written raw (HTTP clients refuse such URLs)."""
    url = httpx.URL(services["gateway"].url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        query = "%7B__typename%7D" + "%23" * (256 * 1024 // 3)  # `{__typename}#…`: a comment
        writer.write(f"GET /graphql?query={query} HTTP/1.1\r\nhost: {url.host}\r\n\r\n".encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
    status = int(status_line.split()[1])
    assert status in (400, 414, 431), status_line


async def test_an_oversize_request_head_is_refused_by_intakes_httptools(
    services: dict[str, ServiceProcess],
) -> None:
    """The services run httptools, which has no bound of its own (`BoundedHeadProtocol`): 431."""
    url = httpx.URL(services["intake"].url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        pad = "x" * (256 * 1024)
        writer.write(f"GET /healthz HTTP/1.1\r\nhost: {url.host}\r\nx-pad: {pad}\r\n\r\n".encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
    assert int(status_line.split()[1]) == 431, status_line
