"""A lean HTTP/1.1 keep-alive transport for the SDKs' httpx client, for plain-``http://`` servers.

Why: at 64 requests in flight against a local server (vLLM, llama.cpp, ...) the
SDK's default stack (httpx → httpcore → h11, anyio) costs ~3 ms of CPU per
request — most of it in httpcore's pool, which scans and polls every pooled
socket each time it assigns a request — so the client, not the server, caps
throughput (``benchmarks/llm_throughput.py``). This transport plugs into the
official SDK as ``http_client=DefaultAsyncHttpxClient(transport=LeanTransport())``:
the SDK still builds, authenticates and parses every request and maps errors as
usual; only the socket work is replaced by plain asyncio streams.

Scope, deliberately small: HTTP/1.1 over plain TCP, ``Content-Length`` or
chunked bodies, keep-alive reuse, per-request connect/read/write timeouts from
the SDK. HTTPS, proxies and HTTP/2 keep the SDK's default stack
(:func:`use_lean`). Errors are raised as the httpx exceptions the SDK expects
(``ConnectError``, ``ReadTimeout``, ``RemoteProtocolError``...), so timeouts and
dropped connections stay transient errors. A request that fails on a reused
idle connection before any answer byte arrived (the server closed it while
idle) is sent once more on a fresh connection.
"""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any

import httpx2 as httpx


def use_lean(base_url: str | None, http: str = "auto") -> bool:
    """The lean transport serves plain-http base URLs with no proxy configured (else: the SDK default).

    ``http`` is the LLM settings' ``http`` ($VALUESCOPE_LLM_HTTP): "default" never uses it. Proxies are
    the standard library's view of the environment (``HTTP_PROXY``, ``ALL_PROXY``...), which the SDK follows too.
    """
    if http == "default":
        return False
    proxied = any(urllib.request.getproxies().get(scheme) for scheme in ("http", "all"))
    return bool(base_url) and base_url.lower().startswith("http://") and not proxied


class _Stale(Exception):
    """A reused connection failed before any response byte: safe to resend once."""


class LeanTransport(httpx.AsyncBaseTransport):
    def __init__(self, max_idle: int = 512) -> None:
        self._idle: dict[tuple[str, int], list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}
        self.max_idle = max_idle
        self.opened = 0  # connections opened (for tests and benchmarks)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"LeanTransport serves http:// only, not {url.scheme}://")
        host, port = url.host, url.port or 80
        timeout = request.extensions.get("timeout") or {}
        body = await request.aread()
        head = [f"{request.method} {url.raw_path.decode('ascii')} HTTP/1.1\r\n".encode()]
        has_host = False
        for k, v in request.headers.raw:
            if k.lower() == b"host":
                has_host = True
            head.append(k + b": " + v + b"\r\n")
        if not has_host:
            head.insert(1, f"Host: {host}:{port}\r\n".encode())
        if body and "content-length" not in request.headers:
            head.append(f"Content-Length: {len(body)}\r\n".encode())
        head.append(b"\r\n")
        raw = b"".join(head) + body

        for _ in range(2):
            reused, (reader, writer) = await self._connect(host, port, timeout.get("connect"))
            try:
                status, reason, headers, content, keep = await self._exchange(
                    reader, writer, raw, request.method, timeout, reused
                )
            except _Stale:
                writer.close()
                continue
            except BaseException:
                writer.close()  # cancelled or failed mid-exchange: the connection state is unknown
                raise
            if keep and len(self._idle.setdefault((host, port), [])) < self.max_idle:
                self._idle[(host, port)].append((reader, writer))
            else:
                writer.close()
            return httpx.Response(
                status,
                headers=headers,
                content=content,
                request=request,
                extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason.encode("latin-1")},
            )
        raise httpx.RemoteProtocolError("server closed the connection without a response", request=request)

    async def _connect(self, host: str, port: int, timeout: float | None):
        idle = self._idle.get((host, port))
        while idle:
            reader, writer = idle.pop()
            if not writer.is_closing() and not reader.at_eof() and reader.exception() is None:
                return True, (reader, writer)
            writer.close()
        try:
            pair = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc)) from None
        self.opened += 1
        return False, pair

    async def _exchange(self, reader, writer, raw: bytes, method: str, timeout: dict[str, Any], reused: bool):
        read_t = timeout.get("read")
        try:
            writer.write(raw)
            if writer.transport.get_write_buffer_size() > 0:
                async with asyncio.timeout(timeout.get("write")):
                    await writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout("write timed out") from None
        except OSError as exc:
            if reused:
                raise _Stale() from None
            raise httpx.WriteError(str(exc)) from None
        try:
            try:
                async with asyncio.timeout(read_t):
                    block = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if reused and not exc.partial:
                    raise _Stale() from None
                raise httpx.RemoteProtocolError("server disconnected without sending a response") from None
            except ConnectionError:
                if reused:
                    raise _Stale() from None
                raise
            lines = block[:-4].decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/"):
                raise httpx.RemoteProtocolError(f"malformed status line {lines[0][:100]!r}")
            version, status, reason = parts[0], int(parts[1]), (parts[2] if len(parts) > 2 else "")
            headers: list[tuple[str, str]] = []
            length: int | None = None
            chunked = False
            close = version == "HTTP/1.0"
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name, value = name.strip(), value.strip()
                headers.append((name, value))
                low = name.lower()
                if low == "content-length":
                    length = int(value)
                elif low == "transfer-encoding":
                    chunked = "chunked" in value.lower()
                elif low == "connection":
                    close = "close" in value.lower() or (version == "HTTP/1.0" and "keep-alive" not in value.lower())
            if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
                content = b""
            elif chunked:
                async with asyncio.timeout(read_t):
                    content = await self._chunks(reader)
            elif length is not None:
                async with asyncio.timeout(read_t):
                    content = await reader.readexactly(length)
            else:
                async with asyncio.timeout(read_t):
                    content = await reader.read()
                close = True
        except TimeoutError:
            raise httpx.ReadTimeout("read timed out") from None
        except asyncio.IncompleteReadError:
            raise httpx.RemoteProtocolError("server disconnected mid-response (incomplete body)") from None
        except asyncio.LimitOverrunError:
            raise httpx.RemoteProtocolError("response headers too large") from None
        except ValueError as exc:
            raise httpx.RemoteProtocolError(f"malformed response: {exc}") from None
        except OSError as exc:
            raise httpx.ReadError(str(exc)) from None
        return status, reason, headers, content, not close

    @staticmethod
    async def _chunks(reader: asyncio.StreamReader) -> bytes:
        out = []
        while True:
            size_line = await reader.readline()
            size = int(size_line.split(b";", 1)[0].strip() or b"x", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(out)
            out.append(await reader.readexactly(size))
            await reader.readexactly(2)

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for _, writer in conns:
                writer.close()
        self._idle.clear()
