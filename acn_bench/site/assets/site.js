/* acn-bench site: the interactive leaderboard of a suite page (no framework, no network).
 *
 * The page embeds its table as JSON (<script type="application/json" id="table-data">, written by
 * acn_bench/site/tables.py). This script draws it into <table id="board">: sortable by any column
 * (click a header; again to reverse), filtered by the select boxes, with a choice of metric columns
 * and of the metric (and direction) to rank by; a click on a row opens its details: every metric,
 * the row's provenance, its recipe and links to its JSON records.
 */
"use strict";

(function () {
  const source = document.getElementById("table-data");
  if (!source) return;
  const data = JSON.parse(source.textContent);
  const controls = document.getElementById("board-controls");
  const table = document.getElementById("board");
  const LABELS = { n: "n", rank: "rank", regime: "regime" };

  const state = {
    shown: new Set(data.shown),
    rankBy: data.rank_by,
    direction: data.higher_is_better ? "higher" : "lower",
    sortKey: "rank",
    descending: false,
    filters: {},
    open: new Set(),
  };

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function rankOf(row) {
    const ranks = row.ranks[state.rankBy];
    return ranks ? ranks[state.direction] || "" : "";
  }

  /* The value a column sorts by: numbers as numbers, anything else as text; empty last. */
  function sortValue(row, key) {
    if (key === "rank") {
      const rank = rankOf(row);
      if (rank === "") return 2e9; // paper rows
      if (rank === "–") return 1e9; // near chance: no rank
      return Number(rank);
    }
    if (key === "n") return row.cells.n;
    if (data.all_metrics.includes(key)) {
      const value = row.values[key];
      return value && value.mean !== null ? value.mean : null;
    }
    const cell = row.cells[key];
    return cell === undefined || cell === "" ? null : cell;
  }

  function compare(a, b) {
    if (a === b) return 0;
    if (a === null) return 1;
    if (b === null) return -1;
    const numbers = typeof a === "number" && typeof b === "number";
    if (numbers) return a - b;
    if (typeof a === "number") return -1;
    if (typeof b === "number") return 1;
    return String(a).localeCompare(String(b), undefined, { numeric: true });
  }

  function sortedRows() {
    const rows = data.rows.map((row, index) => ({ row, index }));
    const visible = rows.filter(({ row }) =>
      Object.entries(state.filters).every(([key, value]) => value === "" || String(row.cells[key]) === value)
    );
    const sign = state.descending ? -1 : 1;
    visible.sort((x, y) => {
      if (state.sortKey === "rank") {
        // as the leaderboard lists them: measured rows first, near-chance rows after the ranked ones,
        // and a rank counts within a dataset and profile, so those stay together
        const order =
          compare(x.row.cells.source, y.row.cells.source) ||
          compare(x.row.cells.regime ? 1 : 0, y.row.cells.regime ? 1 : 0) ||
          ["dataset", "dataset_source", "profile"].reduce((o, key) => o || compare(x.row.cells[key], y.row.cells[key]), 0);
        if (order) return order;
      }
      const a = sortValue(x.row, state.sortKey);
      const b = sortValue(y.row, state.sortKey);
      if (a === null || b === null) return compare(a, b) || x.index - y.index; // empty cells stay last
      return sign * compare(a, b) || x.index - y.index;
    });
    return visible;
  }

  function columns() {
    const metrics = data.metrics.filter((m) => state.shown.has(m));
    return ["rank", ...data.columns, "n", ...metrics, "regime"];
  }

  function drawControls() {
    const filters = el("div", { class: "filters" });
    for (const key of data.filters) {
      const values = [...new Set(data.rows.map((row) => String(row.cells[key])))].sort((a, b) =>
        a.localeCompare(b, undefined, { numeric: true })
      );
      const select = el("select", { "data-filter": key, "aria-label": key }, [el("option", { value: "", text: "all" })]);
      for (const value of values) select.append(el("option", { value, text: value }));
      select.addEventListener("change", () => {
        state.filters[key] = select.value;
        drawTable();
      });
      filters.append(el("label", {}, [key + " ", select]));
    }

    const rank = el("select", { id: "rank-by", "aria-label": "rank by" });
    for (const metric of data.metrics) rank.append(el("option", { value: metric, text: metric }));
    rank.value = state.rankBy;
    const direction = el("select", { id: "rank-direction", "aria-label": "direction" }, [
      el("option", { value: "higher", text: "higher is better" }),
      el("option", { value: "lower", text: "lower is better" }),
    ]);
    direction.value = state.direction;
    rank.addEventListener("change", () => {
      state.rankBy = rank.value;
      state.shown.add(rank.value);
      state.direction = rank.value === data.rank_by && !data.higher_is_better ? "lower" : "higher";
      direction.value = state.direction;
      state.sortKey = "rank";
      state.descending = false;
      drawMetricChoice();
      drawTable();
    });
    direction.addEventListener("change", () => {
      state.direction = direction.value;
      drawTable();
    });
    const ranking = el("div", { class: "ranking" }, [el("label", {}, ["rank by ", rank]), " ", direction]);

    const choice = el("div", { class: "metric-choice", id: "metric-choice" });
    controls.replaceChildren(filters, ranking, choice, el("p", { class: "count", id: "row-count" }));
    drawMetricChoice();
  }

  function drawMetricChoice() {
    const choice = document.getElementById("metric-choice");
    const boxes = data.metrics.map((metric) => {
      const box = el("input", { type: "checkbox", value: metric, "data-metric": metric });
      box.checked = state.shown.has(metric);
      box.addEventListener("change", () => {
        if (box.checked) state.shown.add(metric);
        else state.shown.delete(metric);
        drawTable();
      });
      return el("label", {}, [box, " " + metric]);
    });
    choice.replaceChildren(el("span", { text: "columns: " }), ...boxes);
  }

  function header(key) {
    const arrow = state.sortKey === key ? (state.descending ? " ▼" : " ▲") : "";
    const label = LABELS[key] || key;
    const title = key === "rank" ? `rank by ${state.rankBy}, ${state.direction} is better` : "sort by " + key;
    const th = el("th", { "data-key": key, title, text: label + arrow });
    if (data.all_metrics.includes(key) || key === "n" || key === "depth") th.className = "number";
    th.addEventListener("click", () => {
      state.descending = state.sortKey === key ? !state.descending : false;
      state.sortKey = key;
      drawTable();
    });
    return th;
  }

  function cellText(row, key) {
    if (key === "rank") return rankOf(row) || (row.cells.source === "paper" ? "paper" : "");
    if (key === "n") return String(row.cells.n);
    if (data.all_metrics.includes(key)) return row.values[key] ? row.values[key].text : "–";
    return String(row.cells[key] ?? "");
  }

  function details(row, span) {
    const metrics = el("table", { class: "metrics" });
    for (const metric of data.all_metrics) {
      if (row.values[metric]) {
        metrics.append(el("tr", {}, [el("th", { text: metric }), el("td", { text: row.values[metric].text })]));
      }
    }
    const about = el("table", { class: "about" });
    for (const key of data.details) {
      const value = row.cells[key];
      if (value !== "" && value !== undefined) {
        about.append(el("tr", {}, [el("th", { text: key }), el("td", { text: String(value) })]));
      }
    }
    const links = el("ul", { class: "records" });
    for (const record of row.records) {
      const name = record.href.split("/").pop();
      links.append(el("li", {}, [el("a", { href: record.href, class: "record", text: `seed ${record.seed}: ${name}` })]));
    }
    const recipe = el("pre", { class: "recipe", text: JSON.stringify(row.config, null, 2) });
    const panel = el("div", { class: "panel" }, [
      el("div", {}, [el("h4", { text: "every metric" }), metrics]),
      el("div", {}, [el("h4", { text: "row" }), about, el("h4", { text: "records" }), links]),
      el("div", {}, [el("h4", { text: "recipe (config, seed left out)" }), recipe]),
    ]);
    return el("tr", { class: "details" }, [el("td", { colspan: String(span) }, [panel])]);
  }

  function drawTable() {
    const keys = columns();
    const head = el("thead", {}, [el("tr", {}, keys.map(header))]);
    const body = el("tbody");
    const rows = sortedRows();
    for (const { row, index } of rows) {
      const classes = ["row", row.cells.source === "paper" ? "paper" : "", row.cells.regime ? "flagged" : ""];
      const tr = el("tr", { class: classes.join(" ").trim(), "data-index": String(index), tabindex: "0" });
      for (const key of keys) {
        const td = el("td", { text: cellText(row, key) });
        if (data.all_metrics.includes(key) || key === "n" || key === "depth" || key === "rank") td.className = "number";
        tr.append(td);
      }
      const toggle = () => {
        if (state.open.has(index)) state.open.delete(index);
        else state.open.add(index);
        drawTable();
      };
      tr.addEventListener("click", toggle);
      tr.addEventListener("keydown", (event) => {
        if (event.key === "Enter") toggle();
      });
      if (state.open.has(index)) tr.classList.add("open");
      body.append(tr);
      if (state.open.has(index)) body.append(details(row, keys.length));
    }
    table.replaceChildren(head, body);
    document.getElementById("row-count").textContent = `${rows.length} of ${data.rows.length} rows`;
  }

  drawControls();
  drawTable();
})();
