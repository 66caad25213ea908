#!/usr/bin/env bash
# Scoring speed on a GPU machine: one process on the GPU, then one on the CPU, same model and input
# (one JSON line each: units/s, articles/s, seconds, peak CUDA memory); with several GPUs, also one
# process per GPU through torchrun (the command's own summary line, merge included).
#
#   bench/gpu_score.sh MODEL_DIR INPUT                 # e.g. models/semeval2023-lines corpus.jsonl
#   CPU_LIMIT=500 BATCH=128 bench/gpu_score.sh MODEL_DIR INPUT
#
# CPU_LIMIT: score only the first N articles on the CPU (the rates stay comparable; the full input
# can take long there). BATCH: batch size (default 64). REPEAT: runs per device, best reported (default 2).
# PYTHON: the interpreter (default .venv/bin/python, else python3).
set -euo pipefail

model=${1:?usage: bench/gpu_score.sh MODEL_DIR INPUT}
input=${2:?usage: bench/gpu_score.sh MODEL_DIR INPUT}
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$root/.venv/bin/python}
[ -x "$py" ] || py=python3
export HF_HUB_OFFLINE=1 HF_EVALUATE_OFFLINE=1 TOKENIZERS_PARALLELISM=false
common=(--model "$model" --batch-size "${BATCH:-64}" --repeat "${REPEAT:-2}")

nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "nvidia-smi: no GPU found"
echo "# one process, GPU when there is one"
"$py" "$root/bench/gpu_score.py" "${common[@]}" "$input"
echo "# one process, CPU${CPU_LIMIT:+ (first $CPU_LIMIT articles)}"
"$py" "$root/bench/gpu_score.py" "${common[@]}" --device cpu ${CPU_LIMIT:+--limit "$CPU_LIMIT"} "$input"

gpus=$(nvidia-smi -L 2>/dev/null | wc -l || true)
if [ "${gpus:-0}" -gt 1 ]; then
  echo "# $gpus processes, one per GPU (torchrun), merged into one file"
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  torchrun=$(dirname "$py")/torchrun
  [ -x "$torchrun" ] || torchrun=torchrun
  "$torchrun" --nproc_per_node="$gpus" -m framelab.cli score --model "$model" --batch-size "${BATCH:-64}" --quiet \
    --out "$out/all.jsonl" "$input" 2>&1 | grep -E '^(scored|wrote)'
fi
