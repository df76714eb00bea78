"""A small TCP proxy tests put between the service and a server (PostgreSQL), to cut and restore.

`await proxy.start()` listens on 127.0.0.1 (a free port unless one is given) and pipes every
connection to the upstream address. `await proxy.cut()` is the outage: the listener closes, so new
connections are refused (ECONNREFUSED), and every open connection is reset (RST on both sides,
SO_LINGER 0), as when a database host or a firewall in between goes away. `await proxy.restore()`
listens again on the same port. Runs in the test's event loop: the test must await, not block.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024


@dataclass(eq=False)
class _Pipe:
    """One proxied connection: the client's side, the upstream side, and the two copy tasks."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def reset(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                _reset(writer)
        for task in self.tasks:
            task.cancel()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST rather than FIN: the peer sees 'connection reset', not a clean close."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class TcpProxy:
    """127.0.0.1:<port> -> upstream host:port; `cut()` and `restore()` make and end an outage."""

    def __init__(self, upstream_host: str, upstream_port: int, *, port: int = 0):
        self.upstream = (upstream_host, upstream_port)
        self.port = port
        self.accepted = 0  # connections accepted since start, for tests that want to know
        self._server: asyncio.Server | None = None
        self._pipes: set[_Pipe] = set()

    @property
    def is_cut(self) -> bool:
        return self._server is None

    @property
    def open_connections(self) -> int:
        return len(self._pipes)

    async def start(self) -> int:
        """Listen (on the same port as before, after the first start); returns the port."""
        if self._server is not None:
            return self.port
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def cut(self) -> None:
        """Refuse new connections and reset every open one."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for pipe in list(self._pipes):
            pipe.reset()
        self._pipes.clear()
        await asyncio.sleep(0)  # let the cancelled copy tasks finish

    async def restore(self) -> None:
        """End the outage: accept connections again on the same port."""
        await self.start()

    async def close(self) -> None:
        await self.cut()

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        pipe = _Pipe(client=writer)
        self._pipes.add(pipe)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            self._pipes.discard(pipe)
            _reset(writer)
            return
        if pipe not in self._pipes:  # cut while connecting upstream
            _reset(up_writer)
            return
        pipe.upstream = up_writer
        pipe.tasks = [
            asyncio.create_task(_copy(reader, up_writer)),
            asyncio.create_task(_copy(up_reader, writer)),
        ]
        try:
            await asyncio.gather(*pipe.tasks, return_exceptions=True)
        finally:
            self._pipes.discard(pipe)
            for side in (writer, up_writer):
                if not side.transport.is_closing():
                    side.close()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF, then pass the half-close on."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.transport.abort()
