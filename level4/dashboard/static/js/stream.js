// One /stream connection for the whole page. It keeps what the page wants
// (channels per market, consolidated pairs) and asks for all of it again
// after every reconnect, so a dropped connection heals itself with fresh
// book snapshots.

import { askToken, token } from "./api.js";

const MARKET_CHANNELS = ["status", "top", "trade", "book"];

export class Stream {
  constructor({ onEvent, onState }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.wanted = new Map(MARKET_CHANNELS.map((c) => [c, new Set()])); // channel -> market ids
    this.pairs = new Set(); // consolidated: "BTC-USD", "PERP:BTC-USD"
    this.ws = null;
    this.retry = 500;
    this.nextId = 1;
    this.refused = false;
  }

  url() {
    const url = new URL("stream", document.baseURI);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (token()) url.searchParams.set("token", token());
    return url.toString();
  }

  connect() {
    this.onState("connecting");
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 500;
      this.refused = false;
      this.onState("live");
      for (const [channel, ids] of this.wanted) if (ids.size) this.send("subscribe", [...ids], [channel]);
      for (const pair of this.pairs) this.send("subscribe", [pair], ["consolidated"]);
    };
    ws.onmessage = (message) => this.receive(JSON.parse(message.data));
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.refused) return; // reconnects once a token is given
      this.onState("disconnected");
      setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 10000);
    };
  }

  async receive(message) {
    if (message.channel) {
      this.onEvent(message);
      return;
    }
    if (message.type === "error" && message.error === "unauthorized") {
      this.refused = true;
      this.onState("token needed");
      const why = token() ? "The stream refused the token; enter the right one." : "This service needs its API token.";
      if ((await askToken(why)) !== null) {
        this.refused = false;
        if (this.ws) this.ws.close();
        this.connect();
      }
      return;
    }
    if (message.type === "error") console.warn("stream:", message.error, message.detail);
  }

  send(op, markets, channels) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !markets.length) return;
    this.ws.send(JSON.stringify({ op, markets, channels, id: this.nextId++ }));
  }

  // Make the market channel `channel` cover exactly `ids`.
  track(channel, ids) {
    const want = new Set(ids);
    const have = this.wanted.get(channel);
    const added = [...want].filter((id) => !have.has(id));
    const removed = [...have].filter((id) => !want.has(id));
    this.wanted.set(channel, want);
    this.send("unsubscribe", removed, [channel]);
    this.send("subscribe", added, [channel]);
  }

  trackPairs(pairs) {
    const want = new Set(pairs);
    const removed = [...this.pairs].filter((p) => !want.has(p));
    const added = [...want].filter((p) => !this.pairs.has(p));
    this.pairs = want;
    this.send("unsubscribe", removed, ["consolidated"]);
    this.send("subscribe", added, ["consolidated"]);
  }
}

// After a new token: start over with it.
Stream.prototype.restart = function restart() {
  this.refused = false;
  const old = this.ws;
  this.ws = null;
  if (old) old.close();
  this.connect();
};
