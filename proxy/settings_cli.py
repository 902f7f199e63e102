"""Every ``Settings`` field as a ``copyguard serve`` option, and where each value came from.

The options are generated from the settings model, so ``serve --help`` can never fall
behind it; ``serve --print-settings`` shows the values in force and their source.
"""

from __future__ import annotations

import argparse
import json
import os
import tomllib
import typing
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from proxy.settings import Settings

ENV_PREFIX = "COPYGUARD_"
# Secrets are not taken from the command line: other local users can read it (ps).
_NOT_ON_COMMAND_LINE = {"admin_token"}
_METAVARS = {
    "upstream": "URL",
    "rules": "DIR",
    "listen": "HOST:PORT",
    "admin_listen": "HOST:PORT",
    "cache_dir": "DIR",
    "workers": "N",
}


def option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _default_text(name: str, info: FieldInfo) -> str:
    if name == "workers":
        return "one per CPU"
    if name == "rules":
        return f"the sample rules, {info.get_default()}"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    """One option per setting, its help naming the environment variable and the default."""
    group = parser.add_argument_group(
        "settings",
        "each also COPYGUARD_<NAME> in the environment or a key in the --config file; "
        "precedence: command line, environment, file, default",
    )
    for name, info in Settings.model_fields.items():
        env = ENV_PREFIX + name.upper()
        what = (info.description or name.replace("_", " ")).replace("%", "%%")
        help_text = f"{what} ({env}; default: {_default_text(name, info)})"
        if name in _NOT_ON_COMMAND_LINE:
            parser.epilog = (parser.epilog or "") + f"{name}: {help_text}, not on the command line"
            continue
        kwargs: dict[str, Any] = {"dest": f"setting_{name}", "default": None, "help": help_text}
        annotation = info.annotation
        if annotation is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(annotation) is typing.Literal:
            kwargs["choices"] = typing.get_args(annotation)
        elif name == "routes":
            kwargs.update(type=_json_object, metavar="JSON")
        else:
            kwargs["metavar"] = _METAVARS.get(name, name.upper())
        group.add_argument(option(name), **kwargs)


def _json_object(value: str) -> dict[str, Any]:
    try:
        obj = json.loads(value)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not JSON: {e}") from None
    if not isinstance(obj, dict):
        raise argparse.ArgumentTypeError('expected a JSON object {"/path": "http://..."}')
    return obj


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line (the options left unset are not included)."""
    prefix = "setting_"
    return {
        k.removeprefix(prefix): v
        for k, v in vars(args).items()
        if k.startswith(prefix) and v is not None
    }


def config_file(args: argparse.Namespace) -> Path | None:
    if args.config is not None:
        return Path(args.config)
    env = os.environ.get(ENV_PREFIX + "CONFIG")
    return Path(env) if env else None


def sources(given: dict[str, Any], config: Path | None) -> dict[str, str]:
    """Where each setting in force came from (the same precedence ``load_settings`` applies)."""
    env = {k.upper() for k in os.environ}
    in_file: set[str] = set()
    if config is not None and config.is_file():
        try:
            in_file = set(tomllib.loads(config.read_text("utf-8")))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            in_file = set()
    out = {}
    for name in Settings.model_fields:
        var = ENV_PREFIX + name.upper()
        if name in given:
            out[name] = f"command line ({option(name)})"
        elif var in env:
            out[name] = f"environment ({var})"
        elif name in in_file:
            out[name] = f"file ({config})"
        else:
            out[name] = "default"
    return out


def render_settings(settings: Settings, where: dict[str, str]) -> str:
    """One line per setting: name, value in force (secrets hidden), and its source."""
    rows = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            shown = "(set, hidden)"
        elif value is None:
            shown = "unset"
        elif isinstance(value, dict):
            shown = json.dumps(value)
        else:
            shown = str(value)
        rows.append((name, shown, where[name]))
    width = max(len(n) for n, _, _ in rows)
    vwidth = min(max(len(v) for _, v, _ in rows), 48)
    lines = ["# copyguard serve: settings in force (command line > environment > file > default)"]
    lines += [f"{n:<{width}}  {v:<{vwidth}}  # {s}" for n, v, s in rows]
    return "\n".join(lines) + "\n"
