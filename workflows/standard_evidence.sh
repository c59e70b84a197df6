#!/usr/bin/env bash
# The standard profile's evidence on CIFAR-10, in the order the claims report needs it; resumable.
#
#   ACN_BENCH_CIFAR10=PATH/cifar10-jpg.tar.gz ACN_BENCH_TINY_IMAGENET=PATH/tiny-imagenet-200.tar.gz \
#     bash workflows/standard_evidence.sh [STEP ...]
#
# Run it from a clean checkout (records remember the commit and whether the tree was dirty). Every step
# is `acn-bench run ... --resume`: finished runs are skipped, an interrupted run continues from its last
# epoch, so the script can be stopped and started again, session after session. With no STEP every step
# runs in this order (the cost is measured on a 2-core CPU, --jobs auto = two single-thread workers):
#   twins      compression, both twins, seeds 0-5, 20 epochs (about an hour of one core per run);
#              claim (a), and the trained twins every later image step reuses (the twin store)
#   noise      robustness on those twins: evaluation only (claim b)
#   exits      inherent early exits of those twins: evaluation only (claim f)
#   transfer   the quick profile's Tiny-ImageNet sources, fine-tuned and from scratch on CIFAR-10 (claim d)
#   lowdata    10 images per class, 1,500 steps (claim c)
#   continual  split CIFAR-10, naive fine-tuning at the profile's depths (claim e)
#   sweep      compression at 5 and 10 epochs beside the 20 of `twins` (the budget sweep; SWEEP_EPOCHS)
#   report     leaderboards, claims report, validation
# Settings: ACN_BENCH_RESULTS the records folder (default leaderboards/records), JOBS --jobs (auto), PYTHON
# the interpreter (python3; e.g. .venv/bin/python), SEEDS (6: the primary tests' seeds 0-5), SWEEP_SEEDS the
# sweep's seeds (3: exploratory), SWEEP_EPOCHS the sweep's budgets ("5 10"),
# CONTINUAL_DEPTHS continual depths replacing the profile's (e.g. 5,10,15), BACKBONES the backbones (default
# the profile's Mixer; vit_tiny: the ViT family, see workflows/vit_evidence.sh), and for a
# try on a laptop PROFILE and DATASET (standard, cifar10): PROFILE=smoke DATASET=digits runs in minutes.
set -euo pipefail
records=${ACN_BENCH_RESULTS:-leaderboards/records}
python=${PYTHON:-python3}
sweep=()
for epochs in ${SWEEP_EPOCHS:-5 10}; do sweep+=(--set "epochs=$epochs"); done
# run SEEDS SUITE [ARGS...]
run() { "$python" -m acn_bench.cli run "${@:2}" --profile "${PROFILE:-standard}" --dataset "${DATASET:-cifar10}" \
  --seeds "$1" --resume --out "$records" --jobs "${JOBS:-auto}" --no-progress ${BACKBONES:+--backbones "$BACKBONES"}; }
seeds=${SEEDS:-6}

step() {
  case $1 in
    twins) run "$seeds" compression ;;
    noise) run "$seeds" robustness ;;
    exits) run "$seeds" early_exit --only exit_mode=inherent ;;
    transfer) run "$seeds" transfer ;;
    lowdata) run "$seeds" low_data --only per_class=10 ;;
    continual) run "$seeds" continual --only strategy=naive ${CONTINUAL_DEPTHS:+--depths "$CONTINUAL_DEPTHS"} ;;
    sweep) run "${SWEEP_SEEDS:-3}" compression "${sweep[@]}" ;;
    report)
      "$python" -m acn_bench.cli leaderboard --records "$records"
      "$python" -m acn_bench.cli claims --records "$records"
      "$python" -m acn_bench.cli validate --records "$records" ;;
    *) echo "unknown step '$1'; steps: twins noise exits transfer lowdata continual sweep report" >&2; exit 2 ;;
  esac
}

for name in "${@:-twins noise exits transfer lowdata continual sweep report}"; do
  for one in $name; do step "$one"; done
done
