// The per-market figures the dashboard shows, read from /metrics (the
// Prometheus text format): the same numbers an operator's Prometheus sees.

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function unescape(value) {
  return value.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
}

// name -> [{labels, value}]
export function parseMetrics(text) {
  const families = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = LINE.exec(line);
    if (!match) continue;
    const labels = {};
    for (const [, key, value] of (match[2] || "").matchAll(LABEL)) labels[key] = unescape(value);
    if (!families.has(match[1])) families.set(match[1], []);
    families.get(match[1]).push({ labels, value: Number(match[3]) });
  }
  return families;
}

const PER_MARKET = {
  frames: "level4_frames_received_total",
  events: "level4_events_published_total",
  resyncs: "level4_resyncs_total",
  reconnects: "level4_reconnects_total",
  checksumFailures: "level4_checksum_failures_total",
  malformed: "level4_malformed_frames_total",
  age: "level4_market_feed_age_seconds",
};

// market id -> {frames, events, resyncs, reconnects, checksumFailures, malformed, age}
export function marketFigures(families) {
  const out = new Map();
  for (const [field, name] of Object.entries(PER_MARKET)) {
    for (const { labels, value } of families.get(name) || []) {
      const id = Number(labels.market_id);
      if (!out.has(id)) out.set(id, {});
      out.get(id)[field] = value;
    }
  }
  return out;
}

export function scalar(families, name) {
  const samples = families.get(name);
  return samples && samples.length ? samples[0].value : undefined;
}

// Frames per second from two readings of the frame counters.
export class Rates {
  constructor() {
    this.last = new Map(); // id -> [frames, at]
    this.rates = new Map();
  }

  update(figures, at) {
    for (const [id, f] of figures) {
      const before = this.last.get(id);
      if (before && at > before[1] && f.frames >= before[0]) {
        this.rates.set(id, (f.frames - before[0]) / ((at - before[1]) / 1000));
      }
      this.last.set(id, [f.frames, at]);
    }
  }

  get(id) {
    return this.rates.get(id);
  }
}
