// One market, live: top of book, spread, depth chart, ladder and trade tape,
// from its book, top and trade channels on /stream.

import { $, clock, el, setText } from "./dom.js";
import { getJSON } from "./api.js";
import { LocalBook } from "./book.js";
import { drawDepth } from "./depth.js";

const LADDER_DEPTH = 12;
const CHART_DEPTH = 60;
const TAPE_LENGTH = 25;

export class MarketView {
  constructor(stream) {
    this.stream = stream;
    this.market = null;
    this.book = new LocalBook();
    this.trades = [];
    this.dirty = false;
    window.addEventListener("resize", () => this.schedule());
  }

  // Show `market`; showing the one already shown changes nothing.
  show(market) {
    if (!market || this.market?.id === market.id) return;
    this.market = market;
    this.book.reset();
    this.trades = [];
    setText($("#market-title"), `${market.tag}  (#${market.id})`);
    $("#market-body").hidden = false;
    for (const id of ["#top-bid", "#top-ask", "#top-spread", "#top-mid"]) setText($(id), "—");
    for (const id of ["#top-bid-size", "#top-ask-size"]) setText($(id), "");
    this.topSequence = 0;
    for (const channel of ["book", "top", "trade"]) this.stream.track(channel, [market.id]);
    this.schedule();
    this.load(market).catch((error) => console.warn("market:", error.message));
  }

  // Show no market (the address names none).
  clear() {
    this.hide("Click a market");
  }

  // The address names a market the catalogue does not have.
  missing(id) {
    this.hide(`No market #${id} in the catalogue`);
  }

  hide(title) {
    this.market = null;
    for (const channel of ["book", "top", "trade"]) this.stream.track(channel, []);
    setText($("#market-title"), title);
    $("#market-body").hidden = true;
  }

  // What happened before the subscription: the last top and the recent trades.
  async load(market) {
    const [top, trades] = await Promise.all([
      getJSON(`markets/${market.id}/top`),
      getJSON(`markets/${market.id}/trades?limit=${TAPE_LENGTH}`),
    ]);
    if (this.market !== market) return;
    if (top.sequence && top.sequence > this.topSequence) this.top(top);
    const seen = new Set(this.trades.map((t) => t.sequence));
    const merged = [...this.trades, ...trades.trades.filter((t) => !seen.has(t.sequence))];
    merged.sort((a, b) => b.sequence - a.sequence);
    this.trades = merged.slice(0, TAPE_LENGTH);
    this.schedule();
  }

  event(message) {
    if (!this.market || message.market_id !== this.market.id) return; // left over from the last market shown
    if (message.channel === "book") {
      this.book.apply(message);
    } else if (message.channel === "top") {
      this.top(message);
      return;
    } else if (message.channel === "trade") {
      this.trades.unshift(message);
      this.trades.length = Math.min(this.trades.length, TAPE_LENGTH);
    }
    this.schedule();
  }

  top(message) {
    this.topSequence = message.sequence || this.topSequence;
    setText($("#top-bid"), message.bid ? message.bid[0] : "—");
    setText($("#top-bid-size"), message.bid ? `size ${message.bid[1]}` : "");
    setText($("#top-ask"), message.ask ? message.ask[0] : "—");
    setText($("#top-ask-size"), message.ask ? `size ${message.ask[1]}` : "");
    setText($("#top-spread"), message.spread ?? "—");
    setText($("#top-mid"), message.mid ?? "—");
  }

  // Book events can come by the hundred a second: draw once per frame at most.
  schedule() {
    if (this.dirty) return;
    this.dirty = true;
    requestAnimationFrame(() => {
      this.dirty = false;
      this.render();
    });
  }

  render() {
    if (!this.market) return;
    const book = this.book;
    const state = $("#book-state");
    setText(state, book.synchronised ? `synchronised · sequence ${book.sequence}` : `not synchronised: ${book.reason}`);
    state.classList.toggle("warn", !book.synchronised);
    const bids = book.side("bids", CHART_DEPTH);
    const asks = book.side("asks", CHART_DEPTH);
    drawDepth($("#depth"), bids, asks);
    this.ladder(bids.slice(0, LADDER_DEPTH), asks.slice(0, LADDER_DEPTH));
    this.tape();
  }

  ladder(bids, asks) {
    const biggest = Math.max(1e-300, ...[...bids, ...asks].map((lv) => Number(lv[1])));
    const row = (lv, side) => {
      const bar = el("div", { class: `bar ${side}` });
      bar.style.width = `${(Number(lv[1]) / biggest) * 100}%`;
      return el(
        "tr",
        { class: side },
        el("td", { class: "num price", text: lv[0] }),
        el("td", { class: "num", text: lv[1] }),
        el("td", { class: "barcell" }, bar),
      );
    };
    const rows = [...asks.slice().reverse().map((lv) => row(lv, "ask")), ...bids.map((lv) => row(lv, "bid"))];
    if (asks.length && bids.length) {
      const spread = (Number(asks[0][0]) - Number(bids[0][0])).toPrecision(6);
      rows.splice(asks.length, 0, el("tr", { class: "spread" }, el("td", { colspan: "3", text: `spread ${Number(spread)}` })));
    }
    $("#ladder").tBodies[0].replaceChildren(...rows);
  }

  tape() {
    const rows = this.trades.map((t) =>
      el(
        "tr",
        { class: t.side === "sell" ? "ask" : t.side === "buy" ? "bid" : "" },
        el("td", { text: clock(t.venue_time || t.received_at) }),
        el("td", { text: t.side || "" }),
        el("td", { class: "num", text: t.price }),
        el("td", { class: "num", text: t.size }),
      ),
    );
    $("#tape").tBodies[0].replaceChildren(...rows);
  }
}
