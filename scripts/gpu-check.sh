#!/usr/bin/env bash
# One script for a lent GPU machine (see ../shared/docs/gpu.md): builds the addon against the CUDA libtorch inside
# that machine's Python torch, runs the CUDA parity checks, a short training run and the benchmark on cuda:0, and
# prints a summary. Prepare here with `bash scripts/gpu-check.sh --pack` (puts node + the build inputs into
# .gpu/, which .git/info/exclude should ignore), then run there with carry ['.gpu', 'dist', 'node_modules'] and
# command `bash scripts/gpu-check.sh`. On a machine without CUDA it ends with a clear "no CUDA" message.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-/tmp/gpu-check}"
mkdir -p "$OUT_DIR"

if [ "${1:-}" = "--pack" ]; then
  mkdir -p .gpu
  xz -T0 -c "$(command -v node)" > .gpu/node.xz
  grep -q '^/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
  du -sh .gpu dist node_modules/cmake-js node_modules/node-addon-api 2>/dev/null
  exit 0
fi

if [ -f .gpu/node.xz ] && ! command -v node >/dev/null 2>&1; then
  xz -dc .gpu/node.xz > /tmp/node && chmod +x /tmp/node && mkdir -p /tmp/nodebin && mv /tmp/node /tmp/nodebin/node
  export PATH="/tmp/nodebin:$PATH"
fi
command -v node >/dev/null || { echo "no node available"; exit 1; }
echo "== machine"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "nvidia-smi: none"
PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)
echo "python torch cmake prefix: ${PREFIX:-none}"
if [ -z "$PREFIX" ]; then echo "no CUDA: no Python torch here"; exit 3; fi

echo "== build (cmake-js against $PREFIX)"
rm -rf build
LIBTORCH="$PREFIX" node scripts/install.js --force 2>&1 | tail -5 | tee "$OUT_DIR/build.log"
[ -f build/Release/img2img.node ] || { echo "build failed"; exit 1; }
node bin/img2img.js info | tee "$OUT_DIR/info.txt"

echo "== CUDA parity"
node dist/scripts/gpu_check.js 2>&1 | tee "$OUT_DIR/parity.txt"
echo "== short training run on cuda:0"
node bin/img2img.js train --dataroot demo/facades --name gpu_check --model pix2pix --direction BtoA --device cuda:0 \
  --n_epochs 1 --n_epochs_decay 0 --print_freq 10 --checkpoints_dir /tmp/gpu-ck 2>&1 | tail -8 | tee "$OUT_DIR/train.txt"
for p in bf16 fp16; do
  echo "== short training run on cuda:0, --precision $p"
  node bin/img2img.js train --dataroot demo/facades --name gpu_check_$p --model pix2pix --direction BtoA --device cuda:0 \
    --precision $p --n_epochs 1 --n_epochs_decay 0 --print_freq 10 --checkpoints_dir /tmp/gpu-ck 2>&1 | tail -4 | tee "$OUT_DIR/train_$p.txt"
done
echo "== benchmark (fp32 rows, then their bf16 and fp16 rows, each with its ratio to fp32)"
node dist/scripts/bench.js --device cuda:0 --json > "$OUT_DIR/bench.json" 2>&1; node -e "
const r=require('$OUT_DIR/bench.json'); for (const x of r.results) console.log(x.name.padEnd(52), x.skipped ? 'skipped: '+x.skipped :
  x.median.toFixed(4)+' s '+(x.gflops||0).toFixed(0)+' GFLOP/s'+(x.vsFp32 ? '  '+x.vsFp32.toFixed(2)+'x fp32' : ''));" || cat "$OUT_DIR/bench.json"
echo "== summary"; grep -E "checks|FAIL" "$OUT_DIR/parity.txt"
