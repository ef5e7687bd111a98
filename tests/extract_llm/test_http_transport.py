"""The lean HTTP/1.1 transport under the OpenAI SDK: keep-alive, chunked bodies, stale connections, errors."""

from __future__ import annotations

import asyncio
import json

import httpx2
import openai
import pytest

from fakes.fake_server import GOOD
from valuescope.extract.config import ExtractConfig
from valuescope.extract.llm.backends.http import LeanTransport, use_lean
from valuescope.extract.llm.backends.openai import OpenAIBackend

ANSWER = json.dumps(
    {
        "choices": [{"message": {"content": json.dumps(GOOD)}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5},
    }
).encode()


async def _serve(handler) -> tuple[asyncio.AbstractServer, str]:
    """A tiny HTTP server; handler(reader, writer, n) answers the n-th request on a connection."""

    async def conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        n = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                if not await handler(reader, writer, n):
                    writer.close()
                    return
                n += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(conn, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1"


def _sdk(url: str, transport: LeanTransport, timeout: float = 2.0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=url,
        api_key="x",
        max_retries=0,
        timeout=timeout,
        http_client=openai.DefaultAsyncHttpxClient(transport=transport),
    )


def test_keep_alive_and_chunked_bodies():
    async def handler(reader, writer, n) -> bool:
        if n % 2:  # chunked, split in two chunks
            a, b = ANSWER[:20], ANSWER[20:]
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
                + f"{len(a):x}\r\n".encode()
                + a
                + b"\r\n"
                + f"{len(b):x}\r\n".encode()
                + b
                + b"\r\n0\r\n\r\n"
            )
        else:
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                + str(len(ANSWER)).encode()
                + b"\r\n\r\n"
                + ANSWER
            )
        await writer.drain()
        return True

    async def main() -> None:
        server, url = await _serve(handler)
        transport = LeanTransport()
        sdk = _sdk(url, transport)
        for _ in range(4):
            resp = await sdk.post("/chat/completions", content=b"{}", cast_to=object)
            assert json.loads(resp["choices"][0]["message"]["content"]) == GOOD
        assert transport.opened == 1  # one connection, reused
        await sdk.close()
        server.close()

    asyncio.run(main())


def test_idle_connection_closed_by_the_server_is_resent_once():
    async def handler(reader, writer, n) -> bool:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(ANSWER)).encode()
            + b"\r\n\r\n"
            + ANSWER
        )
        await writer.drain()
        return False  # close after every answer, without saying so

    async def main() -> None:
        server, url = await _serve(handler)
        transport = LeanTransport()
        sdk = _sdk(url, transport)
        for _ in range(3):
            await asyncio.sleep(0.05)
            assert (await sdk.post("/chat/completions", content=b"{}", cast_to=object))["choices"]
        await sdk.close()
        server.close()

    asyncio.run(main())


def test_truncated_body_and_timeout_are_sdk_errors():
    seen = []

    async def handler(reader, writer, n) -> bool:
        seen.append(n)
        if len(seen) == 1:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n" + ANSWER[:30])
            await writer.drain()
            return False
        await asyncio.sleep(5)
        return False

    async def main() -> None:
        server, url = await _serve(handler)
        sdk = _sdk(url, LeanTransport(), timeout=0.3)
        with pytest.raises(openai.APIConnectionError):
            await sdk.post("/chat/completions", content=b"{}", cast_to=object)
        with pytest.raises(openai.APITimeoutError):
            await sdk.post("/chat/completions", content=b"{}", cast_to=object)
        with pytest.raises(openai.APIConnectionError):  # nothing listening
            await _sdk("http://127.0.0.1:1/v1", LeanTransport()).post(
                "/chat/completions", content=b"{}", cast_to=object
            )
        await sdk.close()
        server.close()

    asyncio.run(main())


def test_lean_only_for_plain_http_without_proxy(monkeypatch):
    for v in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "VALUESCOPE_LLM_HTTP"):
        monkeypatch.delenv(v, raising=False)
    assert use_lean("http://gpu-box:8000/v1")
    assert not use_lean("https://api.openai.com/v1")
    assert not use_lean(None)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    assert not use_lean("http://gpu-box:8000/v1")
    monkeypatch.delenv("HTTP_PROXY")
    monkeypatch.setenv("VALUESCOPE_LLM_HTTP", "default")  # read at the API boundary into extract.http
    from valuescope.config import RunConfig, with_environment

    config = with_environment(
        RunConfig(extract=ExtractConfig(extractor="llm", model="m", base_url="http://gpu-box:8000/v1"))
    ).extract
    assert config.http == "default" and not use_lean("http://gpu-box:8000/v1", config.http)
    backend = OpenAIBackend(config)
    sdk = backend._sdk()
    assert not isinstance(sdk._client._transport, LeanTransport)  # type: ignore[attr-defined]
    assert isinstance(sdk._client, httpx2.AsyncClient)
