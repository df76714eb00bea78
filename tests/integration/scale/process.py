"""A real `python -m bot serve` for the scale tests, and waiting for what it does.

`BotProcess` runs the service as a child process in a session of its own (so a test can SIGKILL
the whole group, workers included, and cleanup never leaves one behind), with the WeChat channel
on: credentials and api_base come from the environment (scale.yaml reads them), pointed at the
fake WeChat in the test's event loop. `FaultPoint` drives the BOT_TEST_PAUSE_* hooks of
bot/service/inbound.py; `socket_owner` says which worker process answered a connection.

Nothing here sleeps for a fixed time to let something happen: `wait_for` polls a condition until
it holds or PATIENCE runs out (then the test fails, quoting the child's log).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.wechat_oa_server import FakeWechatServer

ROOT = Path(__file__).resolve().parents[3]
CONFIG = Path(__file__).with_name("scale.yaml")
CHANNEL = "service"
PATIENCE = 60.0  # seconds before a wait gives up and fails the test (never asserted on)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_for(
    condition: Callable[[], bool | Awaitable[bool]],
    what: str,
    *,
    bot: BotProcess | None = None,
    patience: float = PATIENCE,
) -> None:
    """Poll `condition` until it is true; fail the test (with the bot's log) after `patience`."""

    async def poll() -> None:
        while True:
            outcome = condition()
            if inspect.isawaitable(outcome):
                outcome = await outcome
            if outcome:
                return
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), patience)
    except TimeoutError:
        said = bot.log_text() if bot is not None else ""
        pytest.fail(f"timed out waiting for {what}\n--- bot log ---\n{said[-6000:]}")


class BotProcess:
    """`python -m bot serve` in its own session; `start`, `kill`, `terminate`, `close`."""

    def __init__(
        self,
        workdir: Path,
        *,
        database_url: str,
        fake: FakeWechatServer,
        redis_url: str | None = None,
        workers: int = 1,
        env: Mapping[str, str] | None = None,
    ):
        self.workdir = workdir
        self.port = free_port()
        self.database_url = database_url
        self.fake = fake
        self.redis_url = redis_url
        self.workers = workers
        self.extra_env = dict(env or {})
        self.log_path = workdir / f"bot-{self.port}.log"
        self.process: asyncio.subprocess.Process | None = None
        self.pgid: int | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def callback_url(self) -> str:
        return f"{self.base_url}/callbacks/wechat/{CHANNEL}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def environment(self) -> dict[str, str]:
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("WECHAT_", "WECOM_", "DINGTALK_", "BOT_TEST_", "SCALE_"))
            and k not in ("REDIS_URL", "DATABASE_URL", "WORKERS", "BOT_CONFIG", "CONFIG")
            and k != "PROMETHEUS_MULTIPROC_DIR"
        }
        env = {
            **inherited,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": self.database_url,
            "DATA_DIR": str(self.workdir / "data"),
            "PUBLIC_BASE_URL": self.base_url,
            "SECRET_KEY": "scale-test-secret",
            "LOG_LEVEL": "INFO",
            "PLAYGROUND_CLOCK": "false",
            "RELAY_INTERVAL": "0.1",
            "TICK_INTERVAL": "1",
            "SHUTDOWN_GRACE": "1",
            "WECHAT_APP_ID": self.fake.app_id,
            "WECHAT_APP_SECRET": self.fake.app_secret,
            "WECHAT_TOKEN": self.fake.token,
            "WECHAT_AES_KEY": self.fake.encoding_aes_key,
            "WECHAT_API_BASE": self.fake.url,
        }
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        if self.workers > 1:  # the workers' shared counters, inside the test's directory
            metrics_dir = self.workdir / "metrics"
            metrics_dir.mkdir(exist_ok=True)
            env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        env.update(self.extra_env)
        return env

    async def start(self, *, ready: bool = True) -> None:
        """Start (or start again, on the same port and database) and wait until it is ready."""
        assert self.process is None or self.process.returncode is not None, "already running"
        self.starts += 1
        command = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--config", str(CONFIG), "--no-migrate"]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        with self.log_path.open("ab") as log:
            log.write(f"=== start {self.starts}: {' '.join(command[1:])}\n".encode())
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                *command,
                cwd=ROOT,
                env=self.environment(),
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group: killpg reaches the workers
            )
        self.pgid = self.process.pid
        if ready:
            await self.ready()

    async def ready(self) -> None:
        """Wait until /readyz answers 200 (the database answers) on every worker."""
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True)
        ) as session:

            async def answering() -> bool:
                if self.process is None or self.process.returncode is not None:
                    pytest.fail(f"the bot exited before it was ready:\n{self.log_text()[-6000:]}")
                try:
                    async with session.get(f"{self.base_url}/readyz") as resp:
                        if resp.status != 200:
                            return False
                except aiohttp.ClientError:
                    return False
                return len(self.worker_pids()) >= self.workers if self.workers > 1 else True

            await wait_for(answering, "the bot to be ready", bot=self)

    def worker_pids(self) -> list[int]:
        """The parent's child processes (`serve --workers N`), from /proc."""
        try:
            path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
            return [int(p) for p in path.read_text().split()]
        except (OSError, AssertionError):
            return []

    async def kill(self) -> int:
        """SIGKILL the whole process group (parent and workers) and wait; the exit status."""
        assert self.process is not None
        self._signal_group(signal.SIGKILL)
        return await self.process.wait()

    async def terminate(self) -> int:
        """SIGTERM to the parent only (as an init system does) and wait; the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await self.exited()

    async def exited(self) -> int:
        """Wait for the parent to exit; its exit status."""
        assert self.process is not None
        try:
            return await asyncio.wait_for(self.process.wait(), PATIENCE)
        except TimeoutError:
            pytest.fail(f"the bot did not exit:\n{self.log_text()[-6000:]}")

    async def refusing(self) -> bool:
        """True once nothing listens on the port any more (the server is shutting down)."""
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return True
        writer.close()
        return False

    async def close(self) -> None:
        """Cleanup: nothing of ours may outlive the test, whatever happened."""
        if self.pgid is not None:
            self._signal_group(signal.SIGKILL)
        if self.process is not None and self.process.returncode is None:
            await self.process.wait()

    def _signal_group(self, signum: int) -> None:
        assert self.pgid is not None
        try:
            os.killpg(self.pgid, signum)
        except ProcessLookupError:
            pass

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    async def metrics(self) -> dict[str, float]:
        """One /metrics scrape as {'name{labels}': value}."""
        return (await self.metrics_from_a_worker())[0]

    async def metrics_from_a_worker(self) -> tuple[dict[str, float], int | None]:
        """One scrape on a fresh connection, and which worker process answered it."""
        port = free_port()
        connector = aiohttp.TCPConnector(local_addr=("127.0.0.1", port))
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.get(f"{self.base_url}/metrics") as resp:
                assert resp.status == 200
                text = await resp.text()
            pids = self.worker_pids() or [self.pid]
            worker = socket_owner(self.port, port, pids)  # still open: kept alive
        return parse_metrics(text), worker


def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


class FaultPoint:
    """A BOT_TEST_PAUSE_* file: while it exists, callbacks wait at that point in the service."""

    def __init__(self, path: Path):
        self.path = path
        self.reached_path = Path(f"{path}.reached")

    def __str__(self) -> str:
        return str(self.path)

    def arm(self) -> None:
        self.reached_path.unlink(missing_ok=True)
        self.path.touch()

    def reached(self) -> bool:
        return self.reached_path.exists()

    def disarm(self) -> None:
        self.path.unlink(missing_ok=True)


def socket_owner(server_port: int, client_port: int, pids: Iterable[int]) -> int | None:
    """Which of `pids` holds the server's end of our connection from `client_port` (/proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if int(local.rsplit(":", 1)[1], 16) == server_port and (
                int(remote.rsplit(":", 1)[1], 16) == client_port
            ):
                inodes.add(f"socket:[{inode}]")
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return pid
            except OSError:
                continue
    return None
