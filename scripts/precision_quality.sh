#!/usr/bin/env bash
# The mixed-precision quality check of docs/performance.md: the facades pix2pix run (BtoA, unet_128, load 143,
# crop 128, 3 epochs, seed 7) trained and tested at one precision, then scored with `img2img eval` (L1, PSNR, SSIM)
# on the 106 test images. Run it once per precision and compare the scores:
#   bash scripts/precision_quality.sh fp32 /path/to/facades
#   bash scripts/precision_quality.sh bf16 /path/to/facades [--force_precision]   # --force: CPU without native bf16
# Extra arguments go to train and test (e.g. --ngf 16 --ndf 16 for a smaller network); TRAIN_EXTRA to train only
# (e.g. TRAIN_EXTRA='--max_dataset_size 100' for a shorter run). Writes under ${WORK:-/tmp/precision_quality}/<precision>;
# prints the eval JSON last.
set -euo pipefail
cd "$(dirname "$0")/.."
PRECISION="${1:?precision: fp32, bf16 or fp16}"
DATAROOT="${2:?dataroot of the facades pix2pix set (train/ and test/)}"
shift 2
WORK="${WORK:-/tmp/precision_quality}/$PRECISION"
NAME="facades_$PRECISION"
mkdir -p "$WORK"
COMMON=(--dataroot "$DATAROOT" --name "$NAME" --model pix2pix --direction BtoA --netG unet_128 --load_size 143
  --crop_size 128 --checkpoints_dir "$WORK/checkpoints" --precision "$PRECISION" --seed 7 "$@")
start=$(date +%s)
# shellcheck disable=SC2086
node bin/img2img.js train "${COMMON[@]}" ${TRAIN_EXTRA:-} --n_epochs 3 --n_epochs_decay 0 --no_html --print_freq 100 \
  --save_epoch_freq 100 --num_threads 2
echo "train seconds: $(( $(date +%s) - start ))"
node bin/img2img.js test "${COMMON[@]}" --results_dir "$WORK/results" --num_test 106 --eval
node bin/img2img.js eval "$WORK/results/$NAME/test_latest" --metrics l1,psnr,ssim --json
