#!/usr/bin/env bash
# The ViT family's evidence beside the Mixer's, resumable:
#
#   ACN_BENCH_CIFAR10=PATH/cifar10-jpg.tar.gz ACN_BENCH_TINY_IMAGENET=PATH/tiny-imagenet-200.tar.gz \
#     bash workflows/vit_evidence.sh [STEP ...]
#
# Steps (with none, all in this order):
#   quick     every CIFAR-10 image suite (SUITES: compression robustness early_exit low_data transfer
#             continual) on the quick profile, both twins, SEEDS seeds (3)
#   standard  the standard compression twins (SEEDS seeds), then the robustness and inherent early exits
#             that reuse them (workflows/standard_evidence.sh twins noise exits)
#   report    leaderboards, claims report (the ViT beside the primaries), validation
# Settings as in workflows/standard_evidence.sh (ACN_BENCH_RESULTS, PYTHON, JOBS), BACKBONES (vit_tiny), and
# for a try in minutes PROFILE=smoke DATASET=digits (both steps then run that profile).
set -euo pipefail
here=$(dirname "$0")
records=${ACN_BENCH_RESULTS:-leaderboards/records}
python=${PYTHON:-python3}
export SEEDS=${SEEDS:-3} BACKBONES=${BACKBONES:-vit_tiny}

step() {
  case $1 in
    quick)
      for suite in ${SUITES:-compression robustness early_exit low_data transfer continual}; do
        "$python" -m acn_bench.cli run "$suite" --profile "${PROFILE:-quick}" --dataset "${DATASET:-cifar10}" \
          --backbones "$BACKBONES" --seeds "$SEEDS" --resume --out "$records" --jobs "${JOBS:-auto}" --no-progress
      done ;;
    standard) bash "$here/standard_evidence.sh" twins noise exits ;;
    report) bash "$here/standard_evidence.sh" report ;;
    *) echo "unknown step '$1'; steps: quick standard report" >&2; exit 2 ;;
  esac
}

for name in "${@:-quick standard report}"; do
  for one in $name; do step "$one"; done
done
