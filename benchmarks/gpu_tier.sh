#!/usr/bin/env bash
# The GPU tier in one prepared call: the CUDA tests, the CUDA speed/memory table (fp32 and bf16) and
# the paper tier at x4 (full 1024² image, HACBSR 300x5, MLMC 200x5) in fp32, and with GPU_TIER_BF16=1
# the same in bf16 (on an H200 the fp32 part took 3 min and the bf16 run did not fit beside it).
# A lease is short, so every part has its own time box and the parts after it still run; the quality
# harness appends one CSV row per finished run, so a part cut at its box keeps the runs it finished.
#
#   bash benchmarks/gpu_tier.sh OUT_DIR [HR_DIR] [IMAGES...]     # from the repository root
#   GPU_TIER_QUICK=1 ...   # a CPU dry run of the same script (tiny sizes and schedules)
set -u
out=${1:?usage: gpu_tier.sh OUT_DIR [HR_DIR] [IMAGES...]}
hr=${2:-../shared/data/planetary/hr}
shift $(( $# > 1 ? 2 : 1 ))
images=("${@:-ceres_dawnfc_ceres1k_0001}")
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
mkdir -p "$out"
log() { echo "== $(date -u +%T) $*" | tee -a "$out/parts.log"; }

if [ -n "${GPU_TIER_QUICK:-}" ]; then
  device=cpu; sizes=(40 48);  # (×4: LR 10 and 12 px, above the 9-px minimum)
  sched=(--iterations 1 --inner-steps 1 --kernel-warmup 2 --crop 48)
  box_test=60; box_speed=120; box_fp32=120; box_bf16=60; pytest_sel=(-m "gpu" --co)
else
  device=cuda; sizes=(128 512 1024); sched=()
  box_test=90; box_speed=150; box_fp32=220; box_bf16=150; pytest_sel=(-m gpu)
fi

log "machine"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  "$py" -c "import torch, sys; print(sys.version.split()[0], torch.__version__, torch.cuda.is_available())"
} | tee "$out/machine.txt"

log "part 1: pytest -m gpu"
timeout "$box_test" "$py" -m pytest -q -p no:cacheprovider -rA "${pytest_sel[@]}" --continue-on-collection-errors \
  tests/core/test_gpu.py tests/core/test_config.py 2>&1 | tail -30 | tee "$out/pytest_gpu.txt"

log "part 2: speed and memory vs size"
timeout "$box_speed" "$py" -m benchmarks.speed --device "$device" --sizes "${sizes[@]}" --scale 4 \
  --variants hacbsr mlmc --precisions fp32 bf16 --bf16-variants hacbsr --encoder fallback \
  --repeats 3 --rounds 2 --out "$out/speed" 2>&1 | tail -40

log "part 3: paper tier x4, fp32"
timeout "$box_fp32" "$py" -m benchmarks.quality --preset paper --device "$device" --hr-dir "$hr" \
  --images "${images[@]}" --scales 4 --seeds 0 --methods bicubic bicubic-phase hacbsr mlmc \
  --encoder fallback --no-save-images --quiet --cache-dir "$out/lr_cache" \
  --out "$out/paper" "${sched[@]}" 2>&1 | tail -30

[ -n "${GPU_TIER_BF16:-}" ] || { log "done (part 4, bf16 quality, needs its own call: GPU_TIER_BF16=1)"; exit 0; }
log "part 4: paper tier x4, bf16 (same LR files)"
timeout "$box_bf16" "$py" -m benchmarks.quality --preset paper --device "$device" --hr-dir "$hr" \
  --images "${images[@]}" --scales 4 --seeds 0 --methods hacbsr --precision bf16 \
  --encoder fallback --no-save-images --quiet --cache-dir "$out/lr_cache" \
  --out "$out/paper-bf16" "${sched[@]}" 2>&1 | tail -30
log "done"
