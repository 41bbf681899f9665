"""WebSocket clients for tests/websocket.rs, one scenario per command
(`client.py PORT SCENARIO`). Each prints what it saw, one fact per line,
for the test to check. Built on the `websockets` package, except where a
client must misbehave (never answer a ping), which takes a raw socket."""

import asyncio
import base64
import os
import socket
import struct
import sys
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


def closed(ws):
    return f"closed {ws.close_code} {ws.close_reason}"


async def echo(port):
    async with connect(f"ws://127.0.0.1:{port}/echo") as ws:
        await ws.send("héllo")
        print("text", await ws.recv())
        payload = bytes(range(256)) * 1000
        await ws.send(payload)
        answer = await ws.recv()
        print("binary", type(answer).__name__, answer == payload)
        # A message sent in fragments comes back whole.
        await ws.send(["frag", "mented"])
        print("fragmented", await ws.recv())
    print(closed(ws))


async def concurrent(port, count=100, messages=20):
    async def one(n):
        async with connect(f"ws://127.0.0.1:{port}/echo") as ws:
            for i in range(messages):
                await ws.send(f"{n}:{i}")
                if await ws.recv() != f"{n}:{i}":
                    return False
            return True

    results = await asyncio.gather(*(one(n) for n in range(count)), return_exceptions=True)
    print("echoed", sum(1 for r in results if r is True), "of", count)
    for r in results:
        if r is not True:
            print("failure", repr(r))
            break


async def too_big(port):
    async with connect(f"ws://127.0.0.1:{port}/small", max_size=None) as ws:
        await ws.send("x" * 1024)
        print(await ws.recv())
        await ws.send("x" * 1025)
        try:
            await ws.recv()
        except ConnectionClosed:
            print(closed(ws))
    # A message over the limit in fragments, each under it.
    async with connect(f"ws://127.0.0.1:{port}/small", max_size=None) as ws:
        await ws.send(["x" * 600, "x" * 600])
        try:
            await ws.recv()
        except ConnectionClosed:
            print("fragments", closed(ws))


async def throws(port):
    async with connect(f"ws://127.0.0.1:{port}/throws") as ws:
        await ws.send("a")
        print(await ws.recv())
        await ws.send("boom")
        try:
            await ws.recv()
        except ConnectionClosed:
            print(closed(ws))
    async with connect(f"ws://127.0.0.1:{port}/throws") as ws:
        await ws.send("b")
        print("after", await ws.recv())


async def spin(port):
    async with connect(f"ws://127.0.0.1:{port}/spin") as ws:
        await ws.send("a")
        print(await ws.recv())
        started = time.monotonic()
        await ws.send("spin")
        try:
            # Without the cut the worker never answers again: fail, not hang.
            await asyncio.wait_for(ws.recv(), 15)
        except ConnectionClosed:
            print(closed(ws))
            print(f"after {time.monotonic() - started:.0f}")
    async with connect(f"ws://127.0.0.1:{port}/spin") as ws:
        await ws.send("b")
        print("after", await ws.recv())


async def events(port):
    async with connect(f"ws://127.0.0.1:{port}/events", subprotocols=["tandem.v1"]) as ws:
        print("protocol", ws.subprotocol)
        await ws.send("m1")
        await ws.send("events?")
        print(await ws.recv())
        await ws.send("close")
        try:
            await ws.recv()
        except ConnectionClosed:
            print(closed(ws))


async def hold(port):
    """Opens a socket, says so, and reports how it was closed."""
    async with connect(f"ws://127.0.0.1:{port}/echo") as ws:
        await ws.send("ready")
        print(await ws.recv(), flush=True)
        started = time.monotonic()
        try:
            await ws.recv()
        except ConnectionClosed:
            print(closed(ws), flush=True)
            print(f"after {time.monotonic() - started:.1f}", flush=True)


async def sentiment(port):
    """The ML example's /api/sentiment/ws: two texts, then one refused."""
    import json

    async with connect(f"ws://127.0.0.1:{port}/api/sentiment/ws") as ws:
        for text in ["I love this phone, it is wonderful. The battery died after a day!", "Great value."]:
            await ws.send(text)
            while True:
                message = json.loads(await ws.recv())
                print(json.dumps(message, sort_keys=True))
                if "done" in message:
                    break
        await ws.send("   ")
        print(json.loads(await ws.recv())["error"])


def silent(port):
    """Handshakes by hand and then never answers, not even pings."""
    key = base64.b64encode(os.urandom(16)).decode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        (
            f"GET /idle HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    print(head.split(b"\r\n")[0].decode())
    started = time.monotonic()
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
        while len(data) >= 2:
            opcode, length = data[0] & 0x0F, data[1] & 0x7F
            if len(data) < 2 + length:
                break
            payload, data = data[2 : 2 + length], data[2 + length :]
            at = time.monotonic() - started
            if opcode == 0x9:
                print(f"ping at {at:.1f}")
            elif opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0]
                print(f"close {code} {payload[2:].decode()} at {at:.1f}")
    print(f"connection closed at {time.monotonic() - started:.1f}")


if __name__ == "__main__":
    port, scenario = int(sys.argv[1]), sys.argv[2]
    if scenario == "silent":
        silent(port)
    else:
        asyncio.run(globals()[scenario](port))
