#!/usr/bin/env bash
# One GPU session, prepared so that the lent device time goes to measurements, not to set-up.
#
#   ACN_BENCH_CIFAR10=PATH/cifar10-jpg.tar.gz bash workflows/gpu_session.sh [BUDGET_S]
#
# Runs from the repository root with the machine's own python3 (PyTorch, timm, pandas, rich, scikit-learn:
# the lent H200 image has them; nothing is installed), in this order:
#   1. throughput tables, appended to speed/results/<date>-<gpu>.md: the trainer with the paper recipe
#      (AutoAugment batched on the GPU, CutMix, clipping, gradient norms) against the bare loop, with the
#      epoch's phases, for mixer_cifar at the paper's batch size (64) and mixer_small at 512; the paper
#      augmentation of a batch against a bare step; and the mixer_cifar step time compiled under bf16;
#   2. the paper-profile compression run of the paper Mixer on CIFAR-10, both twins of seed 0 sharing the GPU
#      (--jobs 2), interrupted with SIGINT after BUDGET_S seconds (default 360): finished records are kept, an
#      unfinished run leaves its epoch checkpoint for --resume and its epoch lines in the run's log.
# When OUT is set (the device tool's return folder) the results file, the records and the run logs are
# copied there. ACN_BENCH_DEVICE, PROFILE and PERF_STEPS override the device (cuda), the profile (paper)
# and the steps per timing block (50): `ACN_BENCH_DEVICE=cpu PROFILE=smoke PERF_STEPS=2` tries the script
# on a CPU.
set -uo pipefail
budget=${1:-360}
device=${ACN_BENCH_DEVICE:-cuda}
steps=${PERF_STEPS:-50}
records=${ACN_BENCH_RESULTS:-/tmp/acn-gpu-records}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
: "${ACN_BENCH_CIFAR10:?set ACN_BENCH_CIFAR10 to the CIFAR-10 JPEG archive (see Data in the README)}"

perf() { python3 -m speed.perf "$@" --device "$device" --save || echo "perf $1 failed (exit $?)"; }
perf train-throughput --recipe paper --dataset synthetic --steps "$steps" --rounds 3  # mixer_cifar, batch 64, the paper's augmentation
perf augment --rounds 10
perf train-throughput --recipe paper --backbone mixer_small --dataset synthetic --batch-size 512 --steps "$steps" --rounds 3
perf step-time --backbone mixer_cifar --batch-size 64 --steps "$steps" --warmup 5 --compile --amp bf16

timeout -s INT "$budget" python3 -m acn_bench.cli run compression --profile "${PROFILE:-paper}" --dataset cifar10 \
  --seeds 1 --jobs 2 --device "$device" --out "$records" --resume --no-progress
echo "compression run: exit $? (124 or 130: stopped at the budget of ${budget} s; --resume continues it)"

if [ -n "${OUT:-}" ]; then
  cp speed/results/*.md "$OUT"/
  tar czf "$OUT/records.tgz" --exclude='*.ckpt' -C "$records" .
fi
