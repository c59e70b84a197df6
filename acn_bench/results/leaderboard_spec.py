"""What a suite's leaderboard shows, as one value: :class:`LeaderboardSpec`, built once from the suite
(:meth:`LeaderboardSpec.of`) and read by the table (:func:`acn_bench.results.leaderboard.build_table`)
and every view of it: the terminal, the markdown and the site."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence


class LeaderboardSettings(Protocol):
    """The suite attributes a leaderboard reads (:class:`acn_bench.suites.Suite` has them)."""

    name: str
    description: str
    metrics: Sequence[str]
    group_by: Sequence[str]
    higher_is_better: bool
    baseline: Mapping[str, Any]
    baseline_metrics: Sequence[str]

    def compact_metrics(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class LeaderboardSpec:
    """A leaderboard's columns, grouping, ranking, title and name.

    Attributes:
        metrics: every metric of the table (means, spreads and the wide view's columns).
        group_by: the suite's grid keys that make separate rows (besides the generic keys).
        key_metrics: the few metrics of the compact views (default: all of ``metrics``).
        rank_by: the metric that ranks the rows (default: the first metric, set when the spec is made).
        higher_is_better: the direction of the rank and of the baseline comparison.
        baseline: e.g. ``{"method": "random"}``: the row every other row is compared with ...
        baseline_metrics: ... on these metrics, beyond the seed spread.
        title: the heading of the terminal table and the markdown document.
        name: the suite's name: its tables' file names (``<name>.md``, ``.csv``) and its site page's.
    """

    metrics: tuple[str, ...]
    group_by: tuple[str, ...] = ()
    key_metrics: tuple[str, ...] = ()
    rank_by: str = ""
    higher_is_better: bool = True
    baseline: Mapping[str, Any] = field(default_factory=dict)
    baseline_metrics: tuple[str, ...] = ()
    title: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        for name in ("metrics", "group_by", "key_metrics", "baseline_metrics"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.rank_by:
            object.__setattr__(self, "rank_by", self.metrics[0])

    @classmethod
    def of(cls, suite: LeaderboardSettings) -> LeaderboardSpec:
        """The leaderboard of ``suite``: its metrics (ranked by the first), key metrics, keys, baseline and
        ``"<name>: <description>"`` as the title."""
        return cls(
            metrics=tuple(suite.metrics),
            group_by=tuple(suite.group_by),
            key_metrics=tuple(suite.compact_metrics()),
            higher_is_better=suite.higher_is_better,
            baseline=dict(suite.baseline),
            baseline_metrics=tuple(suite.baseline_metrics),
            title=f"{suite.name}: {suite.description}",
            name=suite.name,
        )

    @property
    def shown_metrics(self) -> tuple[str, ...]:
        """The metrics of the compact views (terminal, markdown, the site's default columns)."""
        return self.key_metrics or self.metrics
