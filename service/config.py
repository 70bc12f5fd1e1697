"""One typed settings object, read from SHISAKU_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from indexer.embed import DEFAULT_MODEL
from service.errors import ConfigError


class Settings(BaseSettings):
    """Runtime configuration. Every field is read from ``SHISAKU_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="SHISAKU_", extra="ignore", frozen=True)

    # A folder of report folders (data/reports/<id>/report.json + source), one report folder,
    # or one report file (.txt or .pdf).
    corpus: Path = Path("data/reports")
    # Passage vectors by content hash: a rebuild re-embeds only the reports that changed.
    vector_cache: Path = Path("var/cache/vectors")
    index_dir: Path = Path("var/index")
    model_cache: Path = Path("var/models")
    embedding_model: str = DEFAULT_MODEL
    second_encoder: Literal["use", "none"] = "use"
    glossary: Path = Path("data/glossary/en_ja.tsv")
    lexicon: bool = True  # English queries also use the index's JMdict lexicon (lexicon.json)
    torch_threads: int = Field(default=1, ge=1, le=64)  # torch (index time) and USE
    # How queries are encoded: the e5 model exported to ONNX, int8 (per-channel) or fp32, on
    # onnxruntime; or the sentence-transformers model on torch. BENCHMARKS.md has the choice.
    query_encoder: Literal["int8", "fp32", "torch"] = "int8"
    # onnxruntime intra-op threads per query: on a shared 2-core machine 2 threads neither
    # shortened a search nor raised the throughput measurably (BENCHMARKS.md), so 1.
    query_threads: int = Field(default=1, ge=1, le=64)
    # With query_threads > 1: how long an idle onnxruntime intra-op thread busy-waits for the
    # next operator's work before it sleeps, in microseconds (0: it sleeps at once).
    # onnxruntime's own default spins far longer and starves the rest of a busy server.
    query_spin_us: int = Field(default=100, ge=0, le=100_000)
    # The FAISS indexes built by `shisaku index`: exact (every passage scored; the default,
    # right up to ~10^5 passages per BENCHMARKS.md "Scale") or hnsw (an approximate
    # graph: the top candidates only). The index records its kind; a mismatch is refused.
    faiss_index: Literal["exact", "hnsw"] = "exact"

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)  # `serve` processes sharing the index
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    max_query_chars: int = Field(default=1000, ge=1, le=100_000)
    max_k: int = Field(default=50, ge=1, le=1000)

    # Limits and protections (service/limits.py, service/security.py, service/reload.py).
    max_header_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)  # 431 beyond
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=600)  # 408 beyond
    # How long an idle keep-alive connection stays open. Longer than clients keep idle
    # connections (httpx: 5 s): a server that closes first races the client's next request on
    # that connection, which then fails with a reset (a transport ReadError, no response).
    keep_alive_seconds: int = Field(default=20, ge=1, le=3600)
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)  # 413 beyond
    max_batch: int = Field(default=100, ge=1, le=100)  # queries per POST /search/batch
    max_batch_chars: int = Field(default=20_000, ge=1000, le=1_000_000)  # 413 beyond
    request_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)  # 503 + Retry-After
    encoder_slots: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=64)
    encoder_wait_seconds: float = Field(default=10.0, ge=0, le=600)  # then 503 + Retry-After
    vector_cache_size: int = Field(default=1024, ge=0, le=1_000_000)  # query embeddings; 0 = off
    result_cache_size: int = Field(default=1024, ge=0, le=1_000_000)  # search results; 0 = off
    admin_token: SecretStr | None = None  # enables POST /admin/reload (Authorization: Bearer)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)  # comma-separated
    # Host / Origin values /mcp accepts (comma-separated, "name:*" for any port); empty means
    # loopback plus the bound address. Set them when serving under another name.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("cors_origins", "allowed_hosts", "allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("admin_token", mode="after")
    @classmethod
    def _token_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("the admin token must be at least 16 characters")
        return value

    # Optional OpenAI-compatible chat endpoint for /ask mode=generative (e.g. http://host/v1).
    llm_base_url: str | None = None
    llm_model: str = "default"
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(default=30.0, gt=0, le=600)


def load_settings() -> Settings:
    """Read the environment; a bad value fails with a message naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "SHISAKU_" + "_".join(str(part) for part in error["loc"]).upper()
            secret = name.endswith(("_TOKEN", "_KEY"))  # never echo a secret
            got = "value hidden" if secret else f"got {error.get('input')!r}"
            problems.append(f"{name}: {error['msg']} ({got})")
        raise ConfigError(
            "invalid configuration: " + "; ".join(problems) + ". Fix or unset the variable."
        ) from None


def with_options(settings: Settings, options: dict[str, object]) -> Settings:
    """``settings`` with command-line options (``--workers 2`` as ``{"workers": 2}``) applied
    and validated by the same rules as the variables; a bad value fails with a message naming
    the option."""
    updated = settings.model_copy()
    for name, value in options.items():
        try:
            Settings.__pydantic_validator__.validate_assignment(updated, name, value)
        except ValidationError as exc:
            option = "--" + name.replace("_", "-")
            raise ConfigError(f"{option}: {exc.errors()[0]['msg']} (got {value!r})") from None
    return updated
