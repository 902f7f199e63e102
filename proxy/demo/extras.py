"""The demo upstream's side routes: model lists and fake embeddings.  No I/O."""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Any

from proxy.demo.formats import BadRequest, JsonObject, count_tokens

EMBEDDING_DIMENSIONS = 16


def openai_models(model: str) -> JsonObject:
    """GET /v1/models."""
    entry = {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "copyguard"}
    return {"object": "list", "data": [entry]}


def ollama_tags(model: str) -> JsonObject:
    """GET /api/tags."""
    name = model if ":" in model else f"{model}:latest"
    details = {
        "parent_model": "",
        "format": "gguf",
        "family": "demo",
        "families": ["demo"],
        "parameter_size": "0M",
        "quantization_level": "F16",
    }
    entry = {
        "name": name,
        "model": name,
        "modified_at": "2024-01-01T00:00:00Z",
        "size": 1024,
        "digest": hashlib.sha256(name.encode()).hexdigest(),
        "details": details,
    }
    return {"models": [entry]}


def fake_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector derived from ``text``."""
    seed = hashlib.sha256(text.encode()).digest()
    raw = [(seed[i % len(seed)] + 31 * i) % 256 / 127.5 - 1.0 for i in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def embeddings(body: JsonObject, default_model: str) -> JsonObject:
    """POST /v1/embeddings, as floats or base64 float32 (``encoding_format``)."""
    given: Any = body.get("input")
    inputs = [given] if isinstance(given, str) else given
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest("'input' must be a string or a non-empty list")
    texts = [i if isinstance(i, str) else repr(i) for i in inputs]
    dims = body.get("dimensions") or EMBEDDING_DIMENSIONS
    if not isinstance(dims, int) or not 1 <= dims <= 4096:
        raise BadRequest("'dimensions' must be an integer from 1 to 4096")
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(texts):
        vector: Any = fake_vector(text, dims)
        if as_base64:
            vector = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(count_tokens(t) for t in texts)
    model = body.get("model")
    return {
        "object": "list",
        "data": data,
        "model": model if isinstance(model, str) else default_model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
