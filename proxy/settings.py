"""Every setting, in one typed object: defaults < settings file < environment < command line.

Built once in ``main`` and passed in; nothing reads the environment at import time.
"""

from __future__ import annotations

import ipaddress
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

# The sample rules, shipped inside the package (in a checkout, a link to rules/).
DEFAULT_RULES = (Path(__file__).parent / "sample_rules").resolve()
# what ``copyguard cache prune`` keeps by default (newest entries, bytes in all)
CACHE_KEEP_ENTRIES = 3
CACHE_KEEP_BYTES = 1 << 30


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
    listen: str = Field(
        "127.0.0.1:8080",
        description="HOST:PORT for client traffic; a bare PORT means 127.0.0.1:PORT "
        "(0.0.0.0:PORT listens on every interface)",
    )
    admin_listen: str | None = Field(
        None,
        description="HOST:PORT for /metrics and POST /admin/reload (unset: on listen if it is "
        "loopback or admin_token is set, else not served)",
    )
    cache_dir: Path | None = Field(
        default_factory=default_cache_dir, description="compiled-rules cache folder"
    )
    max_request_bytes: int = Field(
        16 << 20, ge=1024, description="larger request bodies get 413 (bytes)"
    )
    max_event_bytes: int = Field(
        1 << 20, ge=1024, description="largest upstream SSE event or NDJSON line (bytes)"
    )
    max_body_bytes: int = Field(
        64 << 20, ge=1024, description="largest non-streamed upstream body (bytes)"
    )
    connect_timeout: float = Field(10.0, gt=0, description="upstream connect (seconds)")
    first_byte_timeout: float = Field(
        300.0, gt=0, description="until upstream response headers (seconds)"
    )
    read_timeout: float = Field(300.0, gt=0, description="between upstream chunks (seconds)")
    fail_mode: Literal["closed", "open"] = Field(
        "closed", description="a matcher failure ends the stream (closed) or passes it (open)"
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="log level")
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
        None,
        description="bearer token POST /admin/reload requires (and /metrics too, on a "
        "non-loopback listen)",
    )
    holdback: Literal["live", "strict"] = Field(
        "live",
        description="live: hold text while it could still become part of a finding (up to "
        "stride-1 lead-in words of a run, 6 at min_words 12, reach the client before it is "
        "found); strict: also hold those, so no word of a run is released (clean text waits "
        "that many words longer)",
    )
    watch_rules: bool = Field(False, description="reload when files under the rules folder change")
    budget_store: str = Field(
        "memory",
        description='per-key budgets: "memory" (this process), "redis://HOST:PORT/DB" (shared '
        'by every worker and replica) or "off"',
    )
    budget_window: float = Field(86400.0, gt=0, description="seconds a key's budget counts over")
    budget_min_run: int = Field(
        6, ge=2, le=100, description="shortest run of a work that counts toward a budget"
    )
    budget_max_keys: int = Field(100_000, ge=1, description="keys the in-memory store keeps (LRU)")
    key_header: str | None = Field(
        None, description="header naming the client for budgets (default: its API key, hashed)"
    )
    workers: int = Field(
        default_factory=lambda: _cpus(),
        ge=1,
        le=256,
        description="worker processes sharing the listen port (1: a single process)",
    )

    @field_validator("listen", "admin_listen")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip()
        if v.removeprefix(":").isdigit():  # a port alone: loopback, never every interface
            v = "127.0.0.1:" + v.removeprefix(":")
        host, sep, port = v.rpartition(":")
        if not sep or not host.strip("[]") or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"{v!r}: expected HOST:PORT, or PORT for 127.0.0.1:PORT")
        return v

    @property
    def admin_on_listen(self) -> Literal["separate", "open", "token", "refused"]:
        """How the main listener treats /metrics and /admin/reload.

        ``separate``: they are on ``admin_listen``; ``open``: served (loopback only);
        ``token``: served, both requiring ``admin_token``; ``refused``: not served, since
        the listener is reachable from the network and nothing would authenticate them.
        """
        if self.admin_listen is not None:
            return "separate"
        if is_loopback(host_port(self.listen)[0]):
            return "open"
        return "token" if self.admin_token is not None else "refused"

    @field_validator("upstream")
    @classmethod
    def _strip(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("upstream must be an http:// or https:// URL")
        return v.rstrip("/")

    @field_validator("budget_store")
    @classmethod
    def _store(cls, v: str) -> str:
        if v not in ("memory", "off") and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError('budget_store must be "memory", "off" or a redis:// URL')
        return v

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
    """(host, port) of a validated ``listen`` value (IPv6 brackets removed)."""
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


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
