"""Any OpenAI-compatible `/v1/chat/completions` server (vLLM, TGI, llama.cpp's server), streamed
over httpx. This is how a deployment that outgrows one machine serves a large model."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Sequence

import httpx
from httpx_sse import SSEError, aconnect_sse

from bot.errors import ModelError, ModelUnavailable
from bot.llm import ChatMessage, Chunk, GenerationParams

log = logging.getLogger(__name__)

# Without the server's tokenizer, prompt size is estimated: about four characters a token in
# English, plus a few tokens of chat-template framing per message.
_CHARS_PER_TOKEN = 4
_TOKENS_PER_MESSAGE = 4


class RemoteModel:
    def __init__(
        self,
        base_url: str,
        *,
        model_name: str = "default",
        api_key: str | None = None,
        context_window: int = 4096,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        writes_slots: bool = False,
    ) -> None:
        self.name = model_name
        self.context_window = context_window
        # A served model reads the facts themselves, unless it is one of ours served elsewhere.
        self.writes_slots = writes_slots
        self._base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=self._base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            transport=transport,
        )

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return sum(len(m["content"]) // _CHARS_PER_TOKEN + _TOKENS_PER_MESSAGE for m in messages) + 2

    async def ready(self) -> bool:
        try:
            response = await self._client.get("/models", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code < 500

    async def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncGenerator[Chunk, None]:
        body: dict[str, object] = {
            "model": self.name,
            "messages": list(messages),
            "stream": True,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        where = f"model server {self._base_url}"
        try:
            async with aconnect_sse(self._client, "POST", "/chat/completions", json=body) as source:
                response = source.response
                if response.status_code != 200:
                    detail = (await response.aread()).decode("utf-8", "replace")[:500]
                    error = (
                        ModelUnavailable if response.status_code >= 500 or response.status_code == 429 else ModelError
                    )
                    raise error(f"{where} answered HTTP {response.status_code}: {detail}")
                async for event in source.aiter_sse():
                    if event.data.strip() == "[DONE]":
                        return
                    text = _delta_text(event.data, where)
                    if text:
                        yield Chunk(text=text, tokens=1)
        except httpx.TimeoutException as exc:
            raise ModelUnavailable(f"{where} timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise ModelUnavailable(f"{where} is unreachable: {exc!r}") from exc
        except SSEError as exc:
            raise ModelError(f"{where} did not stream server-sent events: {exc}") from exc

    async def aclose(self) -> None:
        await self._client.aclose()


def _delta_text(data: str, where: str) -> str:
    try:
        payload = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{where} sent a chunk that is not JSON: {data[:200]!r}") from exc
    if not isinstance(payload, dict):
        raise ModelError(f"{where} sent an unexpected chunk: {data[:200]!r}")
    if "error" in payload:
        raise ModelError(f"{where} reported an error mid-stream: {payload['error']!r}")
    parts = []
    for choice in payload.get("choices") or []:
        content = (choice.get("delta") or {}).get("content")
        if isinstance(content, str):
            parts.append(content)
    return "".join(parts)
