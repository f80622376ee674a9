#!/usr/bin/env bash
# The latency work's CUDA checks, for a machine with a GPU (run from the repository root):
#   1. hirisearch calibrate --device cuda
#   2. hirisearch bench HIRI-ViT-S and Swin-T at 224 and 448, batch 1 and 64, fp16 autocast,
#      torch.compile -- three times, to state the spread of the medians;
#   3. the latency predictor against measurement on random HIRI-ViT and Swin configurations.
# Everything it prints is also written under $OUT (default ./gpu_check); each step has a timeout
# so that one slow step cannot eat the rest.
#
#   OUT=/tmp/gpu bash benchmarks/gpu_check.sh [configs per family, default 12]
set -uo pipefail
OUT=${OUT:-gpu_check}
CONFIGS=${1:-12}
mkdir -p "$OUT"
export HIRISEARCH_CACHE="$OUT/cache"
step() {  # step NAME SECONDS CMD...: run CMD with a timeout, its output to $OUT/NAME.txt
  local name=$1 limit=$2
  shift 2
  echo "== $name: $*" | tee "$OUT/$name.txt"
  local t0=$SECONDS
  timeout "$limit" "$@" >>"$OUT/$name.txt" 2>&1
  echo "== $name: exit $?, $((SECONDS - t0)) s" | tee -a "$OUT/$name.txt"
  tail -n 40 "$OUT/$name.txt"
}
python - <<'PY' || exit 1
import torch
assert torch.cuda.is_available(), "no CUDA device"
print(torch.__version__, torch.cuda.get_device_name(0))
PY
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv >"$OUT/gpu.txt" 2>&1

step calibrate 180 hirisearch calibrate --device cuda
for i in 1 2 3; do
  step "bench-$i" 240 hirisearch bench specs/s.yaml specs/swin/t.yaml --res 224 448 \
    --device cuda --batch 1,64 --dtype fp16 --compile --min-time 1 --predict --json \
    --out "$OUT/runs"
done
step predictor 240 python benchmarks/latency_predictor.py --device cuda --family hiri_vit \
  --family swin --configs "$CONFIGS" --calibration "$HIRISEARCH_CACHE/calibration-cuda.json"

# Repeatability: per model x resolution x batch, the three medians and their spread.
python - "$OUT" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
runs = {}
for i in (1, 2, 3):
    for line in (out / f"bench-{i}.txt").read_text().splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            if r.get("status") == "ok":
                runs.setdefault((r["name"], r["img_size"], r["batch"]), []).append(r)
print("model, res, batch: medians ms (3 runs), spread (max-min)/min, GFLOP/s, predicted ms")
for (name, res, batch), rs in sorted(runs.items()):
    ms = [r["latency_ms"] for r in rs]
    pred = rs[0].get("predicted_ms")
    print(f"{name} {res} b{batch}: {', '.join(f'{m:.2f}' for m in ms)}; "
          f"spread {(max(ms) - min(ms)) / min(ms):.1%}; {rs[0]['gmacs_per_s']:.0f} GFLOP/s; "
          f"predicted {pred if pred is None else round(pred, 2)}")
PY
