"""The regime a run was measured in: chance level, and whether its accuracy is far enough above it.

A run that learned nothing cannot support a conclusion about connectivities, and neither can a
transfer run whose source model barely learned its source task.

- **Near chance** means statistically indistinguishable from chance on the test set the accuracy
  was scored on: a one-sided binomial test (``scipy.stats.binomtest``) of the correct answers
  against the chance level does not reject at :data:`NEAR_CHANCE_P` (0.001). A 2-class model at
  70% on 2,000 test images is far from chance; one at 52% on 100 images is not. Records that do
  not state their test-set size fall back to the older bar: below twice chance, capped at halfway
  from chance to 100% (:func:`chance_threshold`).
- **Near-chance source**: a transfer run that uses its source (every mode but ``scratch``) whose
  source accuracy is below five times the source's chance, capped likewise (the source's test-set
  size is not recorded).
Records state their chance level (``metrics["chance_accuracy"]``, and for transfer
``metrics["source_chance_accuracy"]``); older records do not, and it is derived here from what
they do state, or left unknown (``None``), never guessed.

The same rule flags a single record (:func:`regime_flags`) and a leaderboard row (:func:`flags`
on the row's means).
"""

from __future__ import annotations

from typing import Any

from scipy.stats import binomtest

from acn_bench.results.record import Record

NEAR_CHANCE = "near chance"
NEAR_CHANCE_SOURCE = "near-chance source"
NEAR_CHANCE_P = 0.001  # near chance: a one-sided binomial test against chance does not reject at this level
CHANCE_FACTOR = 2.0  # without a test-set size: a row whose accuracy is below CHANCE_FACTOR x chance is near chance
SOURCE_CHANCE_FACTOR = 5.0  # a transfer source below SOURCE_CHANCE_FACTOR x its chance barely learned
MAX_GAP_FRACTION = 0.5  # ... but a bar never lies more than this fraction of the way from chance to 100%

# Classes of the datasets a transfer source can be, for records made before the source's chance
# level was stored (``imagefolder:`` sources are unknown).
SOURCE_CLASSES = {"tiny-imagenet": 200, "cifar100": 100, "cifar10": 10, "digits": 10, "imagenet": 1000}


def as_number(value: Any) -> float | None:
    """``value`` as a float when it is a real number (not a bool, not NaN), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return float(value)


def _one_in(classes: Any) -> float | None:
    """``1 / classes`` for a class count of at least 2, else ``None``."""
    count = as_number(classes)
    return 1.0 / count if count is not None and count >= 2 else None


def chance_level(record: Record) -> float | None:
    """Accuracy of guessing uniformly, for the accuracy the record's regime is judged on.

    ``metrics["chance_accuracy"]`` when the record states it; otherwise derived: continual
    task-incremental runs (``config["setting"] == "task"``) guess among one task's classes
    (``1 / dataset.classes_per_task``), class-incremental ones (``setting == "class"``) among all
    classes, any other run among ``dataset.num_classes``. ``None`` when unknown.
    """
    stated = as_number(record.metrics.get("chance_accuracy"))
    if stated is not None:
        return stated
    setting = record.config.get("setting")
    if setting == "task":
        per_task = record.dataset.get("classes_per_task")
        classes, tasks = as_number(record.dataset.get("num_classes")), as_number(record.dataset.get("n_tasks"))
        if per_task is None and classes and tasks:
            per_task = classes / tasks
        return _one_in(per_task)
    return _one_in(record.dataset.get("num_classes"))


def source_chance_level(record: Record) -> float | None:
    """Chance accuracy on a transfer run's source task: ``metrics["source_chance_accuracy"]``, or
    derived from ``config["source_dataset"]`` (:data:`SOURCE_CLASSES`); ``None`` when unknown or
    not a transfer run."""
    stated = as_number(record.metrics.get("source_chance_accuracy"))
    if stated is not None:
        return stated
    return _one_in(SOURCE_CLASSES.get(str(record.config.get("source_dataset"))))


def scored_on(record: Record) -> int | None:
    """How many test examples the judged accuracy was scored on: ``dataset.test_size`` (continual: the
    whole test stream, each example scored once right after its task); ``None`` when not recorded."""
    size = as_number(record.dataset.get("test_size"))
    return int(size) if size is not None and size >= 1 else None


def uses_source(record: Record) -> bool:
    """Whether the run's result depends on a transfer source (every transfer mode but ``scratch``)."""
    return record.config.get("mode") != "scratch"


def source_accuracy(record: Record) -> float | None:
    """The source accuracy a transfer run depends on; ``None`` for runs that use no source."""
    return as_number(record.metrics.get("source_accuracy")) if uses_source(record) else None


def near_chance(accuracy: float, chance: float, examples: int | None = None) -> bool:
    """Whether ``accuracy`` cannot be told from ``chance``: with the number of ``examples`` it was
    scored on, a one-sided binomial test at :data:`NEAR_CHANCE_P` does not reject; without it, the
    accuracy is below :func:`chance_threshold`."""
    if examples is None:
        return accuracy < chance_threshold(chance)
    correct = min(examples, max(0, round(accuracy * examples)))
    return binomtest(correct, examples, chance, alternative="greater").pvalue > NEAR_CHANCE_P


def judged_accuracy(record: Record) -> float | None:
    """The accuracy a record's regime is judged on: ``learning_accuracy`` (continual: accuracy on
    each task right after learning it, so forgetting does not read as not learning) when the record
    has it, else ``accuracy``; ``None`` when it has neither (e.g. a GLUE score that is a correlation)."""
    for key in ("learning_accuracy", "accuracy"):
        value = as_number(record.metrics.get(key))
        if value is not None:
            return value
    return None


def chance_threshold(chance: float, factor: float = CHANCE_FACTOR) -> float:
    """The accuracy below which a run is near chance: ``factor * chance``, capped at
    ``chance + MAX_GAP_FRACTION * (1 - chance)`` (for 2-class tasks 75%, not 100%)."""
    return min(factor * chance, chance + MAX_GAP_FRACTION * (1.0 - chance))


def flags(
    accuracy: float | None,
    chance: float | None,
    source_accuracy: float | None = None,
    source_chance: float | None = None,
    examples: float | None = None,
) -> list[str]:
    """The regime flags of an accuracy (a record's, or a row's mean) against its chance level.

    - :data:`NEAR_CHANCE` when :func:`near_chance` (``examples``: the test examples it was scored on);
    - :data:`NEAR_CHANCE_SOURCE` when ``source_accuracy < chance_threshold(source_chance,
      SOURCE_CHANCE_FACTOR)`` (5 x the source's chance; pass ``None`` for a run that uses no source).

    An unknown value (``None`` or NaN) raises no flag.
    """
    accuracy, chance = as_number(accuracy), as_number(chance)
    source_accuracy, source_chance = as_number(source_accuracy), as_number(source_chance)
    count = as_number(examples)
    found = []
    if None not in (accuracy, chance) and near_chance(accuracy, chance, int(count) if count else None):
        found.append(NEAR_CHANCE)
    if None not in (source_accuracy, source_chance) and source_accuracy < chance_threshold(
        source_chance, SOURCE_CHANCE_FACTOR
    ):
        found.append(NEAR_CHANCE_SOURCE)
    return found


def regime_flags(record: Record) -> list[str]:
    """The record's regime flags (empty: far enough above chance to support a conclusion).

    ``"near chance"`` when its judged accuracy (:func:`judged_accuracy`) cannot be told from its
    chance level on the test examples it was scored on (:func:`near_chance`); ``"near-chance
    source"`` for a transfer run that uses its source whose source accuracy is below five times the
    source's chance level (capped by :func:`chance_threshold`). Unknown chance levels raise no flag.
    """
    return flags(
        judged_accuracy(record),
        chance_level(record),
        source_accuracy(record),
        source_chance_level(record),
        scored_on(record),
    )
