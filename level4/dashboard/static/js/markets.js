// The markets table: one row per market of the catalogue, updated in place.

import { marketHref } from "./address.js";
import { age, el, rate, setText } from "./dom.js";

// /stream status events -> the market status /markets reports
export const STATUS_OF_EVENT = {
  started: "connecting",
  synchronised: "live",
  desynchronised: "synchronising",
  reconnecting: "reconnecting",
  failed: "failed",
  stopped: "stopped",
};

export class MarketsTable {
  constructor(table, empty, { onSelect, onToggle }) {
    this.tbody = table.tBodies[0];
    this.empty = empty;
    this.onSelect = onSelect;
    this.onToggle = onToggle;
    this.rows = new Map(); // id -> {tr, cells}
    this.markets = new Map(); // id -> market, as last listed
    this.liveStatus = new Map(); // id -> [status, reason, at]: from /stream, newer than a listing in flight
    this.selected = null;
  }

  row(market) {
    let row = this.rows.get(market.id);
    if (row) return row;
    const cells = {
      id: el("td", { class: "num", text: String(market.id) }),
      tag: el("td", { class: "tag" }, el("a", { href: marketHref(market.id), text: market.tag })),
      status: el("td", { class: "status" }),
      connection: el("td", { class: "connection" }),
      node: el("td", { class: "node" }),
      age: el("td", { class: "num age" }),
      rate: el("td", { class: "num rate" }),
      resyncs: el("td", { class: "num resyncs" }),
      reconnects: el("td", { class: "num reconnects" }),
      checksums: el("td", { class: "num checksums" }),
      feed: el("td"),
    };
    const button = el("button", { type: "button", class: "toggle" });
    button.addEventListener("click", (event) => {
      event.stopPropagation();
      const current = this.markets.get(market.id);
      this.onToggle(current, button);
    });
    cells.feed.append(button);
    const tr = el("tr", { dataset: { marketId: market.id }, tabindex: "0" }, ...Object.values(cells));
    tr.addEventListener("click", (event) => {
      if (!event.target.closest("a")) this.onSelect(this.markets.get(market.id)); // a link goes there itself
    });
    tr.addEventListener("keydown", (event) => {
      if (event.key === "Enter") this.onSelect(this.markets.get(market.id));
    });
    row = { tr, cells, button };
    this.rows.set(market.id, row);
    return row;
  }

  // A listing of /markets, fetched from `since` on.
  list(markets, since) {
    const seen = new Set();
    markets.sort((a, b) => a.id - b.id);
    for (const market of markets) {
      seen.add(market.id);
      const live = this.liveStatus.get(market.id);
      if (live && live[2] > since) [market.status, market.status_reason] = live;
      this.markets.set(market.id, market);
      const row = this.row(market);
      this.tbody.append(row.tr); // in id order; appending an attached row moves it
      this.paint(market);
    }
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
        this.markets.delete(id);
      }
    }
    this.empty.hidden = markets.length > 0;
  }

  // Venue connections the listed markets ride on: each shared one once, plus one per
  // running market with a connection of its own.
  connections() {
    const shared = new Set();
    let own = 0;
    for (const m of this.markets.values()) {
      if (m.connection) shared.add(m.connection);
      else if (m.status !== "stopped" && m.status !== "failed") own += 1;
    }
    return shared.size + own;
  }

  status(id, event) {
    const status = STATUS_OF_EVENT[event.status];
    const market = this.markets.get(id);
    if (!status) return;
    this.liveStatus.set(id, [status, event.reason, performance.now()]);
    if (market) {
      market.status = status;
      market.status_reason = event.reason;
      this.paint(market);
    }
  }

  paint(market) {
    const { cells, button, tr } = this.row(market);
    setText(cells.status, market.status);
    cells.status.dataset.status = market.status;
    cells.status.title = market.status_reason || "";
    const running = market.status !== "stopped" && market.status !== "failed";
    // Shared connections are named VENUE#n; the venue is in the tag already, so the cell shows #n.
    const shared = market.connection ? market.connection.slice(market.connection.lastIndexOf("#")) : null;
    setText(cells.connection, shared || (running ? "own" : "—"));
    cells.connection.title = market.connection
      ? `shared connection ${market.connection}`
      : running ? "a connection of its own" : "";
    setText(cells.node, market.node ? `${market.node} · e${market.epoch}` : "—");
    cells.node.title = market.node ? `runs on node ${market.node}, lease epoch ${market.epoch}` : "";
    const on = market.level4_feed_enabled;
    setText(button, on ? "switch off" : "switch on");
    button.dataset.enabled = on ? "true" : "false";
    tr.classList.toggle("selected", this.selected === market.id);
  }

  figures(figures, rates) {
    for (const [id, row] of this.rows) {
      const f = figures.get(id) || {};
      const market = this.markets.get(id);
      const running = market && market.status !== "stopped" && market.status !== "failed";
      setText(row.cells.age, running ? age(f.age) : "—");
      row.cells.age.classList.toggle("stale", running && f.age > 10);
      setText(row.cells.rate, running ? rate(rates.get(id)) : "—");
      setText(row.cells.resyncs, String(f.resyncs ?? 0));
      setText(row.cells.reconnects, String(f.reconnects ?? 0));
      setText(row.cells.checksums, String(f.checksumFailures ?? 0));
    }
  }

  select(id) {
    this.selected = id;
    for (const [rid, row] of this.rows) row.tr.classList.toggle("selected", rid === id);
  }
}
