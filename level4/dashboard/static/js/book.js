// A market's book kept from /stream book events: a snapshot replaces it,
// a delta sets each level it carries and removes those of size zero.

import { priceKey } from "./dom.js";

function isZero(size) {
  return Number(size) === 0;
}

export class LocalBook {
  constructor() {
    this.reset();
  }

  reset() {
    this.bids = new Map(); // price key -> level as sent ([price, size] or [price, size, orders])
    this.asks = new Map();
    this.synchronised = false;
    this.reason = "waiting for the snapshot";
    this.sequence = 0;
  }

  apply(event) {
    if (event.snapshot) {
      this.bids = new Map();
      this.asks = new Map();
      this.reason = event.reason;
    }
    this.synchronised = event.synchronised;
    if (!event.synchronised) this.reason = event.reason;
    this.sequence = event.sequence;
    for (const [side, levels] of [
      [this.bids, event.bids],
      [this.asks, event.asks],
    ]) {
      for (const level of levels) {
        const key = priceKey(level[0]);
        if (isZero(level[1])) side.delete(key);
        else side.set(key, level);
      }
    }
  }

  // Levels best first.
  side(name, depth = Infinity) {
    const levels = [...(name === "bids" ? this.bids : this.asks).values()];
    levels.sort((a, b) => (name === "bids" ? Number(b[0]) - Number(a[0]) : Number(a[0]) - Number(b[0])));
    return depth === Infinity ? levels : levels.slice(0, depth);
  }
}
