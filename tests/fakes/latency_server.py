"""A lean fixed-latency OpenAI-compatible server, for throughput benchmarks only.

Unlike ``fake_server`` (scriptable faults, uvicorn + JSON parsing per request),
this one does the least a server can do so the benchmark measures the client:
a raw asyncio protocol reads HTTP/1.1 requests (``Content-Length`` bodies,
keep-alive), waits ``latency`` seconds with ``loop.call_later`` (no task per
request) and writes one pre-serialised valid chat-completion answer. It does
not parse the request body. Run it in its own process so it does not share the
client's GIL:

    python -m fakes.latency_server --port 8765 --latency 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from fakes.fake_server import GOOD


def _response(payload: Any, status: str = "200 OK") -> bytes:
    body = json.dumps(payload).encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        "connection: keep-alive\r\n\r\n"
    ).encode()
    return head + body


CHAT = _response(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "bench",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": json.dumps(GOOD)}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1300, "completion_tokens": 90, "total_tokens": 1390},
    }
)
MODELS = _response({"object": "list", "data": [{"id": "bench", "object": "model"}]})
NOT_FOUND = _response({"error": {"message": "not found"}}, "404 Not Found")


class _Conn(asyncio.Protocol):
    def __init__(self, latency: float, stats: dict[str, Any]) -> None:
        self.latency = latency
        self.stats = stats
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length :]
            target = head.split(b" ", 2)[1] if b" " in head else b""
            self.stats["requests"] += 1
            if target.endswith(b"/chat/completions"):
                self.stats["arrivals"].append(time.monotonic())
                asyncio.get_running_loop().call_later(self.latency, self._write, CHAT)
            elif target.endswith(b"/models"):
                self._write(MODELS)
            elif target.endswith(b"/stats"):  # arrival times of the chat requests since the last call (cleared)
                self._write(_response({"arrivals": self.stats["arrivals"]}))
                self.stats["arrivals"] = []
            else:
                self._write(NOT_FOUND)

    def _write(self, raw: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(raw)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(host: str, port: int, latency: float) -> None:
    stats: dict[str, Any] = {"requests": 0, "arrivals": []}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Conn(latency, stats), host, port, backlog=2048)
    async with server:
        await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--latency", type=float, default=0.2)
    args = ap.parse_args()
    try:
        asyncio.run(serve(args.host, args.port, args.latency))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
