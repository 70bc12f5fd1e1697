"""One typed settings object, read from SHISAKU_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.embed import DEFAULT_MODEL
from service.errors import ConfigError


class Settings(BaseSettings):
    """Runtime configuration. Every field is read from ``SHISAKU_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="SHISAKU_", extra="ignore", frozen=True)

    corpus: Path = Path("data/isa-7th-roundtable-measures-status.txt")
    index_dir: Path = Path("var/index")
    model_cache: Path = Path("var/models")
    embedding_model: str = DEFAULT_MODEL
    second_encoder: Literal["use", "none"] = "use"
    glossary: Path = Path("data/glossary/en_ja.tsv")
    torch_threads: int = Field(default=1, ge=1, le=64)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    max_query_chars: int = Field(default=1000, ge=1, le=100_000)
    max_k: int = Field(default=50, ge=1, le=1000)

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
            problems.append(f"{name}: {error['msg']} (got {error.get('input')!r})")
        raise ConfigError(
            "invalid configuration: " + "; ".join(problems) + ". Fix or unset the variable."
        ) from None
