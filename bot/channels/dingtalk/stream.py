"""The DingTalk Stream connection: the official SDK's client on its own thread and event loop.

What the SDK (dingtalk-stream 0.24.3) does, and what this module changes:
- `DingTalkStreamClient.OPEN_CONNECTION_API` (a class attribute) and `get_access_token` are built
  from `dingtalk_stream.utils.DINGTALK_OPENAPI_ENDPOINT`, read from the environment once, when the
  package is first imported: one API base per process, whatever is set later. Setting the env var
  per channel cannot work, so `ChannelStreamClient.open_connection` sends the SDK's own request
  (same body, headers and `ua`) to the channel's `api_base`. Nothing here uses the SDK's token.
- `open_connection` is a blocking `requests.post` without a timeout: it runs on the SDK thread
  only, here with a timeout, so a stop waits at most that long.
- `start()` catches CancelledError and sleeps a fixed 10 s (3 s for other errors) before
  reconnecting, so it can neither be stopped by cancellation nor tested quickly; after a
  reconnect its in-flight handlers ACK on `self.websocket`, the new socket. `run()` replaces it:
  a short growing backoff that a stop request cuts short, every ACK on the socket its frame came
  from, and on `disconnect` a new connection at once while the old one finishes in-flight events.
- Frames, handlers and ACK framing are the SDK's: `CallbackHandler.raw_process` answers
  `{code, headers{messageId, contentType}, data: {"response": ...}}`; `SystemHandler` echoes ping's
  opaque. Handlers here only hand events to the service loop and ACK after `feed` returned.
"""

from __future__ import annotations

import asyncio
import json
import logging
import platform
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote_plus

import requests
import websockets
from dingtalk_stream import (
    AckMessage,
    CallbackHandler,
    CallbackMessage,
    Credential,
    DingTalkStreamClient,
    EventMessage,
    SystemMessage,
)
from dingtalk_stream.version import VERSION_STRING
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from bot.channels.base import FeedEvent, InboundEvent
from bot.channels.dingtalk.inbound import CARD_CALLBACK_TOPIC, DingtalkPayloadError

EventParser = Callable[[CallbackMessage], InboundEvent | None]
Deliver = Callable[[InboundEvent], Awaitable[bool]]
Outcome = Literal["failed", "dropped", "rotate", "stopped"]

DEFAULT_RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class FeedHandler(CallbackHandler):
    """One callback topic: parse the frame, hand the event over, ACK success only once stored."""

    def __init__(self, topic: str, parse: EventParser, deliver: Deliver, *, channel: str):
        # Not CallbackHandler.__init__: it attaches a stderr handler to a global logger.
        self.dingtalk_client = None
        self._log = self.logger = logging.getLogger(f"{__name__}.{channel}")
        self.topic = topic
        self._parse = parse
        self._deliver = deliver

    async def process(self, message: CallbackMessage) -> tuple[int, Any]:
        try:
            event = self._parse(message)
        except DingtalkPayloadError as exc:
            # A re-push of a payload we cannot read cannot help: ACK it, say why once.
            self._log.warning("dingtalk stream: %s frame ignored: %s", self.topic, exc)
            return AckMessage.STATUS_OK, None
        if event is None:
            return AckMessage.STATUS_OK, None
        if await self._deliver(event):
            return AckMessage.STATUS_OK, {} if self.topic == CARD_CALLBACK_TOPIC else None
        # Not stored: anything but 200 leaves the push unacknowledged, so DingTalk re-pushes it.
        return AckMessage.STATUS_SYSTEM_EXCEPTION, None

    async def raw_process(self, callback_message: CallbackMessage) -> AckMessage:
        ack = await super().raw_process(callback_message)
        ack.message = "OK" if ack.code == AckMessage.STATUS_OK else "retry later"
        return ack


class ChannelStreamClient(DingTalkStreamClient):
    """The SDK client for one channel: its own API base and a connection loop that can stop."""

    def __init__(
        self,
        credential: Credential,
        *,
        api_base: str,
        channel: str = "dingtalk",
        reconnect_delays: Sequence[float] = DEFAULT_RECONNECT_DELAYS,
        open_timeout: float = 10.0,
        drain_timeout: float = 5.0,
    ):
        # Records name their channel through the logger: dingtalk...stream.<channel>.
        self._log = logging.getLogger(f"{__name__}.{channel}")
        super().__init__(credential, logger=self._log)
        self.api_base = api_base.rstrip("/")
        self._delays = tuple(reconnect_delays) or (1.0,)
        self._open_timeout = open_timeout
        self._drain_timeout = drain_timeout
        self._stop_flag = threading.Event()
        self._stop_event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.connections_opened = 0  # sockets opened so far, for logs and tests

    def open_connection(self) -> dict[str, Any] | None:
        """The SDK's connection request, sent to this channel's API base (blocking)."""
        subscriptions = [{"type": "EVENT", "topic": "*"}] if self._is_event_required else []
        subscriptions += [{"type": "CALLBACK", "topic": t} for t in self.callback_handler_map]
        body = {
            "clientId": self.credential.client_id,
            "clientSecret": self.credential.client_secret,
            "subscriptions": subscriptions,
            "ua": f"dingtalk-sdk-python/v{VERSION_STRING}-union",
            "localIp": self.get_host_ip(),
        }
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": (
                f"DingTalkStream/1.0 SDK/{VERSION_STRING} Python/{platform.python_version()} "
                "(+https://github.com/open-dingtalk/dingtalk-stream-sdk-python)"
            ),
        }
        url = f"{self.api_base}/v1.0/gateway/connections/open"
        try:
            response = requests.post(
                url, headers=headers, data=json.dumps(body), timeout=self._open_timeout
            )
            response.raise_for_status()
            data = response.json()
        except (requests.RequestException, ValueError) as exc:
            status = getattr(getattr(exc, "response", None), "status_code", "")
            self._log.warning(
                "dingtalk stream: opening a connection failed: %s %s", type(exc).__name__, status
            )
            return None
        if not isinstance(data, dict) or not data.get("endpoint") or not data.get("ticket"):
            self._log.warning("dingtalk stream: the gateway answered without endpoint or ticket")
            return None
        return data

    def get_access_token(self) -> str | None:
        """Not used: the SDK's version asks the process-wide endpoint with blocking requests.

        Tokens come from the service's AccessTokenCache (aiohttp, one key per client_id).
        """
        raise NotImplementedError("DingTalk tokens come from the service's AccessTokenCache")

    def request_stop(self) -> None:
        """Ask the loop to stop (any thread): in-flight events finish, then the socket closes."""
        self._stop_flag.set()
        loop, event = self._loop, self._stop_event
        if loop is not None and event is not None:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:
                pass  # the loop already ended

    async def run(self) -> None:
        """Connect, serve, reconnect until a stop is requested (replaces the SDK's start())."""
        self.pre_start()
        self._stop_event = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self._stop_flag.is_set():
            self._stop_event.set()
        retiring: set[asyncio.Task[None]] = set()
        failures = 0
        try:
            while not self._stop_event.is_set():
                try:
                    outcome = await self._connect_and_serve(retiring)
                except Exception:
                    self._log.exception("dingtalk stream: unexpected error; reconnecting")
                    outcome = "failed"
                if outcome == "stopped":
                    break
                if outcome == "rotate":  # DingTalk asked us to move: no reason to wait
                    failures = 0
                    continue
                failures = 1 if outcome == "dropped" else failures + 1
                await self._sleep_unless_stopped(self._delays[min(failures, len(self._delays)) - 1])
        finally:
            if retiring:
                await asyncio.gather(*retiring, return_exceptions=True)

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        assert self._stop_event is not None
        try:
            await asyncio.wait_for(self._stop_event.wait(), seconds)
        except TimeoutError:
            pass

    async def _connect_and_serve(self, retiring: set[asyncio.Task[None]]) -> Outcome:
        assert self._stop_event is not None
        connection = self.open_connection()  # blocking: this thread is the SDK's own
        if connection is None:
            return "failed"
        uri = f"{connection['endpoint']}?ticket={quote_plus(str(connection['ticket']))}"
        try:
            ws = await websockets.connect(uri, open_timeout=self._open_timeout, close_timeout=2)
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            self._log.warning("dingtalk stream: WebSocket refused: %s", exc.__class__.__name__)
            return "failed"
        self.websocket = ws
        self.connections_opened += 1
        self._log.info("dingtalk stream: connected (%d)", self.connections_opened)
        in_flight: set[asyncio.Task[None]] = set()
        rotate = asyncio.Event()
        reader = asyncio.create_task(self._read(ws, in_flight, rotate))
        waits = [asyncio.create_task(self._stop_event.wait()), asyncio.create_task(rotate.wait())]
        await asyncio.wait([reader, *waits], return_when=asyncio.FIRST_COMPLETED)
        for wait in waits:
            wait.cancel()
        if not reader.done():
            reader.cancel()  # stop or disconnect: read nothing more from this socket
        elif not reader.cancelled() and reader.exception() is not None:
            self._log.warning("dingtalk stream: reading failed: %r", reader.exception())
        retire = asyncio.create_task(self._retire(ws, in_flight))
        if self._stop_event.is_set():
            await retire
            return "stopped"
        retiring.add(retire)
        retire.add_done_callback(retiring.discard)
        if rotate.is_set():
            self._log.info("dingtalk stream: disconnect requested; reconnecting")
            return "rotate"
        self._log.warning("dingtalk stream: connection lost; reconnecting")
        return "dropped"

    async def _read(
        self, ws: Any, in_flight: set[asyncio.Task[None]], rotate: asyncio.Event
    ) -> None:
        try:
            async for raw in ws:
                try:
                    frame = json.loads(raw)
                except (TypeError, ValueError):
                    self._log.warning("dingtalk stream: a frame that is not JSON was ignored")
                    continue
                if not isinstance(frame, dict):
                    continue
                task = asyncio.create_task(self._dispatch(ws, frame, rotate))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
        except ConnectionClosed:
            pass  # the caller sees the reader end and reconnects

    async def _dispatch(self, ws: Any, frame: Mapping[str, Any], rotate: asyncio.Event) -> None:
        """The SDK's route_message, answering on the socket the frame came from."""
        kind = frame.get("type", "")
        ack: AckMessage | None = None
        try:
            if kind == SystemMessage.TYPE:
                system = SystemMessage.from_dict(frame)
                ack = await self.system_handler.raw_process(system)
                if system.headers.topic == SystemMessage.TOPIC_DISCONNECT:
                    rotate.set()
            elif kind == CallbackMessage.TYPE:
                callback = CallbackMessage.from_dict(frame)
                handler = self.callback_handler_map.get(callback.headers.topic)
                if handler is None:
                    self._log.warning("dingtalk stream: no handler for %s", callback.headers.topic)
                    ack = AckMessage()
                    ack.code = AckMessage.STATUS_NOT_IMPLEMENT
                    ack.headers.message_id = callback.headers.message_id
                else:
                    ack = await handler.raw_process(callback)
            elif kind == EventMessage.TYPE:
                ack = await self.event_handler.raw_process(EventMessage.from_dict(frame))
        except Exception:
            self._log.exception("dingtalk stream: a %s frame failed; left unacknowledged", kind)
            return
        if ack is None:
            return
        try:
            await ws.send(json.dumps(ack.to_dict()))
        except ConnectionClosed:
            self._log.info(
                "dingtalk stream: an ACK was lost with its connection; DingTalk re-pushes"
            )

    async def _retire(self, ws: Any, in_flight: set[asyncio.Task[None]]) -> None:
        """Let in-flight events finish and ACK (bounded), then close the socket."""
        if in_flight:
            await asyncio.wait(set(in_flight), timeout=self._drain_timeout)
        try:
            await ws.close()
        except Exception:
            pass  # already gone


class StreamRunner:
    """Runs a ChannelStreamClient on its own thread; its handlers feed the service loop."""

    def __init__(
        self,
        *,
        channel: str,
        client_id: str,
        client_secret: str,
        api_base: str,
        parsers: Mapping[str, EventParser],
        reconnect_delays: Sequence[float] = DEFAULT_RECONNECT_DELAYS,
        feed_timeout: float = 30.0,
        drain_timeout: float = 5.0,
        open_timeout: float = 10.0,
    ):
        self.channel = channel
        self._log = logging.getLogger(f"{__name__}.{channel}")
        self._feed_timeout = feed_timeout
        # Long enough for a blocked open_connection (open_timeout) plus draining in-flight events.
        self._stop_timeout = open_timeout + drain_timeout + 5.0
        self._feed: FeedEvent | None = None
        self._service_loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.client = ChannelStreamClient(
            Credential(client_id, client_secret),
            api_base=api_base,
            channel=channel,
            reconnect_delays=reconnect_delays,
            open_timeout=open_timeout,
            drain_timeout=drain_timeout,
        )
        for topic, parse in parsers.items():
            handler = FeedHandler(topic, parse, self._deliver, channel=channel)
            self.client.register_callback_handler(topic, handler)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, feed: FeedEvent, service_loop: asyncio.AbstractEventLoop) -> None:
        """Start the SDK thread; events go to `feed` on `service_loop`."""
        if self._thread is not None:
            return
        self._feed = feed
        self._service_loop = service_loop
        self._thread = threading.Thread(
            target=self._thread_main, name=f"dingtalk-stream:{self.channel}", daemon=True
        )
        self._thread.start()

    def _thread_main(self) -> None:
        try:
            asyncio.run(self.client.run())
        except Exception:
            self._log.exception("dingtalk stream thread for %s ended with an error", self.channel)

    async def stop(self) -> None:
        """Stop reconnecting, let in-flight events ACK, close the socket, end the thread."""
        thread = self._thread
        if thread is None:
            return
        self.client.request_stop()
        # Join off the service loop: in-flight handlers are waiting for feeds that run on it.
        await asyncio.to_thread(thread.join, self._stop_timeout)
        if thread.is_alive():
            self._log.warning("dingtalk stream thread for %s did not end", self.channel)

    async def _deliver(self, event: InboundEvent) -> bool:
        """On the SDK loop: run feed(event) on the service loop; True once it was stored."""
        feed, loop = self._feed, self._service_loop
        if feed is None or loop is None:
            return False

        async def call() -> Any:
            return await feed(event)

        coro = call()
        try:
            future = asyncio.run_coroutine_threadsafe(coro, loop)
        except RuntimeError:  # the service loop is gone
            coro.close()
            return False
        try:
            reply = await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(future)), self._feed_timeout
            )
        except TimeoutError:
            self._log.warning(
                "dingtalk stream: feed took over %s s; not acknowledged", self._feed_timeout
            )
            return False
        except Exception as exc:
            self._log.warning(
                "dingtalk stream: feed failed (%s); not acknowledged", type(exc).__name__
            )
            return False
        return bool(getattr(reply, "accepted", False))
