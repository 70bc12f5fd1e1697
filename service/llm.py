"""A minimal client for an OpenAI-compatible chat-completions endpoint (httpx, no SDK)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # httpx is imported when a request is sent (~45 ms off every command)
    import httpx

logger = logging.getLogger(__name__)


class LLMError(Exception):
    """The endpoint timed out, failed or answered something unusable (the caller falls back)."""


@dataclass(frozen=True)
class LLMConfig:
    base_url: str  # e.g. http://127.0.0.1:8080/v1 ; "/chat/completions" is appended
    model: str
    api_key: str | None = None
    timeout: float = 30.0
    max_tokens: int = 800
    temperature: float = 0.0


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


class ChatClient:
    """Sends one chat request and returns the assistant's text."""

    def __init__(self, config: LLMConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self._transport = transport

    @property
    def url(self) -> str:
        base = self.config.base_url.rstrip("/")
        return base if base.endswith("/chat/completions") else base + "/chat/completions"

    def complete(self, messages: list[ChatMessage]) -> str:
        headers = {"Content-Type": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        payload: dict[str, Any] = {
            "model": self.config.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
            "stream": False,
        }
        import httpx

        try:
            with httpx.Client(timeout=self.config.timeout, transport=self._transport) as client:
                response = client.post(self.url, json=payload, headers=headers)
        except httpx.TimeoutException:
            seconds = f"{self.config.timeout:g}"
            raise LLMError(f"the language model did not answer within {seconds} s") from None
        except httpx.HTTPError as exc:
            problem = type(exc).__name__
            raise LLMError(f"the language model endpoint is unreachable ({problem})") from None
        if response.status_code != 200:
            logger.warning(
                "LLM endpoint answered HTTP %s: %.200s", response.status_code, response.text
            )
            raise LLMError(f"the language model endpoint answered HTTP {response.status_code}")
        try:
            data = response.json()
            text = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError("the language model endpoint answered in an unexpected format") from None
        if not isinstance(text, str) or not text.strip():
            raise LLMError("the language model returned an empty answer")
        return text.strip()


def client_from_settings(settings: object) -> ChatClient | None:
    """A ChatClient when SHISAKU_LLM_BASE_URL is set, else None (generative mode disabled)."""
    base_url = getattr(settings, "llm_base_url", None)
    if not base_url:
        return None
    key = getattr(settings, "llm_api_key", None)
    return ChatClient(
        LLMConfig(
            base_url=str(base_url),
            model=str(getattr(settings, "llm_model", "default")),
            api_key=None if key is None else str(getattr(key, "get_secret_value", lambda: key)()),
            timeout=float(getattr(settings, "llm_timeout", 30.0)),
        )
    )
