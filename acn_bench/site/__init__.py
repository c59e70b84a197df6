"""``acn-bench site``: the leaderboards as a static website that opens from the file system, offline.

:mod:`~acn_bench.site.build` reads the records and writes the site atomically,
:mod:`~acn_bench.site.tables` turns a suite's leaderboard into the JSON its page embeds,
:mod:`~acn_bench.site.figures` draws the suites' figures and the Pareto views with plotly,
:mod:`~acn_bench.site.pages` writes the HTML; ``assets/site.js`` and ``assets/site.css`` make the
tables sortable, filterable and expandable in the browser.
"""

from acn_bench.site.build import build_site

__all__ = ["build_site"]
