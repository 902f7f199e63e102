"""Every setting, in one typed object: defaults < settings file < environment < command line.

Built once in ``main`` and passed in; nothing reads the environment at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_RULES = Path(__file__).resolve().parent.parent / "rules"


def default_cache_dir() -> Path:
    """Where compiled matchers are kept: ``$XDG_CACHE_HOME/copyguard`` (``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "copyguard"


class Settings(BaseSettings):
    """copyguard's settings; each is also ``COPYGUARD_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="COPYGUARD_", extra="forbid", frozen=True)

    upstream: str = Field("http://127.0.0.1:9100", description="model server base URL")
    routes: dict[str, str] = Field(
        default_factory=dict,
        description='per-path upstreams, e.g. {"/v1/messages": "http://anthropic-compat:9000"}',
    )
    rules: Path = Field(DEFAULT_RULES, description="rules folder")
    index: Path | None = Field(
        None,
        description="index file from build-index, memory-mapped; then 'rules', if set, "
        "holds only works added since (docs/scaling.md)",
    )
    listen: str = Field("127.0.0.1:8080", description="HOST:PORT for client traffic")
    admin_listen: str | None = Field(
        None, description="HOST:PORT for /metrics (default: served on the main listener)"
    )
    cache_dir: Path | None = Field(default_factory=default_cache_dir)
    max_request_bytes: int = Field(16 << 20, ge=1024)
    max_event_bytes: int = Field(1 << 20, ge=1024)
    max_body_bytes: int = Field(64 << 20, ge=1024, description="non-streamed upstream bodies")
    connect_timeout: float = Field(10.0, gt=0)
    first_byte_timeout: float = Field(300.0, gt=0, description="until upstream headers")
    read_timeout: float = Field(300.0, gt=0, description="between upstream chunks")
    fail_mode: Literal["closed", "open"] = "closed"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_content: bool = Field(False, description="log texts (prompts, outputs): debugging only")
    metrics_work_labels: int = Field(
        50, ge=0, description="distinct works labelled in metrics before 'other' (0: off)"
    )
    grace_period: float = Field(30.0, ge=0, description="seconds to finish streams on SIGTERM")
    event_loop: Literal["asyncio", "uvloop"] = Field(
        "asyncio",
        description="asyncio: flat memory from the start; uvloop: cheaper per chunk in some "
        "loads, its memory climbs for about a minute under saturation (docs/reliability.md)",
    )
    admin_token: SecretStr | None = Field(
        None, description="bearer token required by POST /admin/reload (unset: none)"
    )
    watch_rules: bool = Field(False, description="reload when files under the rules folder change")
    workers: int = Field(
        default_factory=lambda: _cpus(),
        ge=1,
        le=256,
        description="worker processes sharing the listen port (default: one per CPU)",
    )

    @field_validator("upstream")
    @classmethod
    def _strip(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("upstream must be an http:// or https:// URL")
        return v.rstrip("/")

    @field_validator("routes")
    @classmethod
    def _routes(cls, v: dict[str, str]) -> dict[str, str]:
        for path, url in v.items():
            if not path.startswith("/") or not url.startswith(("http://", "https://")):
                raise ValueError(f"route {path!r} -> {url!r}: need '/path' -> 'http(s)://...'")
        return {p: u.rstrip("/") for p, u in v.items()}

    @property
    def rules_folder(self) -> Path | None:
        """The rules folder to compile: ``rules``, except with an index where it is not set."""
        if self.index is not None and "rules" not in self.model_fields_set:
            return None
        return self.rules

    def upstream_for(self, path: str) -> str:
        """The upstream for ``path``: the longest matching route prefix, else the default."""
        best = ""
        for prefix in self.routes:
            if (path == prefix or path.startswith(prefix.rstrip("/") + "/")) and len(prefix) > len(
                best
            ):
                best = prefix
        return self.routes[best] if best else self.upstream


def _cpus() -> int:
    """The CPUs this process may run on (its affinity mask, e.g. a container's cpuset)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from an optional TOML file, the environment, then explicit overrides."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if config_file is None:
        return Settings(**given)

    class FromFile(Settings):
        model_config = SettingsConfigDict(toml_file=config_file)

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)

    return FromFile(**given)
