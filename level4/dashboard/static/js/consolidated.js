// The consolidated level-4 book of a pair: every synchronised market's
// levels merged, each venue in its own colour, crossed markets marked.
// Everything shown (the top-of-book line, the crossed flag, the crossings,
// the ladder, the markets left out) is drawn from one read of
// /books/{pair}, so that the header and the rows always agree. The
// stream's consolidated channel (the top changed) only brings the next
// read forward; without it the book is read every second.

import { $, el, setText, venueColour } from "./dom.js";
import { ApiError, getJSON } from "./api.js";

const DEPTH = 12;
const REFRESH_MS = 1000;
const SOON_MS = 200; // at most one read this often while the top keeps changing

// Pairs a market can be merged into: spot and perpetual markets only.
export function pairsOf(markets) {
  const pairs = new Map(); // key -> {key, name, type, markets}
  for (const m of markets) {
    if (m.market_type !== "SPOT" && m.market_type !== "PERP") continue;
    const name = `${m.base_symbol}-${m.quote_symbol}`;
    const key = m.market_type === "SPOT" ? name : `PERP:${name}`;
    if (!pairs.has(key)) pairs.set(key, { key, name, type: m.market_type, markets: [] });
    pairs.get(key).markets.push(m);
  }
  return [...pairs.values()].sort((a, b) => b.markets.length - a.markets.length || a.key.localeCompare(b.key));
}

export class ConsolidatedView {
  constructor(stream) {
    this.stream = stream;
    this.pair = null; // {key, name, type}
    this.pairs = [];
    this.timer = null;
    this.due = Infinity; // when the timer fires
    this.reading = false;
    this.stale = false; // the top changed during the read in flight
    this.select = $("#pair");
    this.select.addEventListener("change", () => this.choose(this.select.value));
  }

  // The markets changed: offer their pairs, keep the one shown.
  offer(markets) {
    this.pairs = pairsOf(markets);
    const keys = this.pairs.map((p) => p.key);
    if (keys.join() !== [...this.select.options].map((o) => o.value).join()) {
      this.select.replaceChildren(
        ...this.pairs.map((p) => el("option", { value: p.key, text: `${p.key} (${p.markets.length})` })),
      );
    }
    $("#consolidated-empty").hidden = this.pairs.length > 0;
    if (this.pair && keys.includes(this.pair.key)) {
      this.select.value = this.pair.key;
    } else {
      this.choose(keys[0] || null);
    }
  }

  choose(key) {
    this.pair = this.pairs.find((p) => p.key === key) || null;
    if (this.pair) this.select.value = key;
    this.stream.trackPairs(this.pair ? [this.pair.key] : []);
    this.clear();
    this.readIn(0);
  }

  // Read the book again within `ms` (sooner if already due sooner).
  readIn(ms) {
    const due = performance.now() + ms;
    if (this.timer !== null && this.due <= due) return;
    clearTimeout(this.timer);
    this.due = due;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.read();
    }, ms);
  }

  async read() {
    const pair = this.pair;
    if (!pair) return;
    if (this.reading) {
      this.stale = true;
      return;
    }
    this.reading = true;
    this.stale = false;
    try {
      const body = await getJSON(`books/${encodeURIComponent(pair.name)}?depth=${DEPTH}&type=${pair.type}`);
      if (pair === this.pair) this.render(body);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) console.warn("consolidated:", error.message);
    } finally {
      this.reading = false;
    }
    if (this.pair) this.readIn(this.stale ? SOON_MS : REFRESH_MS); // the pair may have changed meanwhile
  }

  // A consolidated channel event: the pair's top changed, so read the book soon.
  event(message) {
    if (!this.pair || message.market !== this.pair.key) return;
    if (this.reading) this.stale = true;
    else this.readIn(SOON_MS);
  }

  clear() {
    setText($("#consolidated-top"), "");
    $("#crossed-flag").hidden = true;
    $("#crossings").hidden = true;
    $("#legend").replaceChildren();
    $("#cbook").tBodies[0].replaceChildren();
    setText($("#excluded"), "");
  }

  render(body) {
    const side = (lv) => {
      if (!lv) return "—";
      const venues = Object.keys(lv.venues).map((tag) => tag.split(".")[0]);
      return `${lv.size} @ ${lv.price} (${venues.join(", ")})`;
    };
    setText($("#consolidated-top"), `best bid ${side(body.best_bid)} · best ask ${side(body.best_ask)}`);
    const tags = body.markets.map((m) => m.market);
    $("#legend").replaceChildren(
      ...tags.map((tag) => {
        const swatch = el("span", { class: "swatch" });
        swatch.style.background = venueColour(tag);
        return el("span", { class: "venue", dataset: { market: tag } }, swatch, tag);
      }),
    );
    $("#crossed-flag").hidden = !body.crossed;
    const crossings = $("#crossings");
    crossings.hidden = !body.crossed;
    crossings.replaceChildren(
      ...body.crossings.map((c) => el("div", { text: `${c.bid_market} bids ${c.bid} ≥ ${c.ask_market} asks ${c.ask}` })),
    );
    const bestBid = body.best_bid ? Number(body.best_bid.price) : -Infinity;
    const bestAsk = body.best_ask ? Number(body.best_ask.price) : Infinity;
    const biggest = Math.max(1e-300, ...[...body.bids, ...body.asks].map((lv) => Number(lv.size)));
    const row = (lv, side) => {
      const price = Number(lv.price);
      // A bid at or above the best ask (an ask at or below the best bid) is where venues cross.
      const crossed = side === "bid" ? price >= bestAsk : price <= bestBid;
      const bar = el("div", { class: "stack" });
      for (const tag of tags) {
        const size = lv.venues[tag];
        if (!size) continue;
        const part = el("span", { class: "part", title: `${tag}: ${size}`, dataset: { market: tag } });
        part.style.width = `${(Number(size) / biggest) * 100}%`;
        part.style.background = venueColour(tag);
        bar.append(part);
      }
      const venues = Object.entries(lv.venues).map(([tag, size]) => `${tag.split(".")[0]} ${size}`).join(", ");
      return el(
        "tr",
        { class: `${side}${crossed ? " crossed" : ""}` },
        el("td", { class: "num price", text: lv.price }),
        el("td", { class: "num", text: lv.size }),
        el("td", { class: "barcell" }, bar),
        el("td", { class: "venues", text: venues }),
      );
    };
    const rows = [...body.asks.slice().reverse().map((lv) => row(lv, "ask")), ...body.bids.map((lv) => row(lv, "bid"))];
    if (body.asks.length && body.bids.length) {
      const label = body.crossed ? "crossed" : "spread";
      rows.splice(body.asks.length, 0, el("tr", { class: "spread" }, el("td", { colspan: "4", text: label })));
    }
    $("#cbook").tBodies[0].replaceChildren(...rows);
    setText(
      $("#excluded"),
      body.excluded.length ? `left out: ${body.excluded.map((m) => `${m.market} (${m.reason || m.status})`).join(", ")}` : "",
    );
  }
}
