// Small DOM and formatting helpers shared by the views.

export function $(selector) {
  const found = document.querySelector(selector);
  if (!found) throw new Error(`no element ${selector}`);
  return found;
}

// el("td", {class: "num", dataset: {id: 3}}, "text", child)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

export function age(seconds) {
  if (seconds === undefined || seconds === null || !isFinite(seconds)) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

export function rate(perSecond) {
  if (perSecond === undefined || perSecond === null || !isFinite(perSecond)) return "—";
  if (perSecond < 10) return perSecond.toFixed(1);
  return Math.round(perSecond).toLocaleString("en");
}

export function clock(unixSeconds) {
  if (!unixSeconds) return "";
  const d = new Date(unixSeconds * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// Decimal strings as the service writes them, keyed by value: "1.50" and "1.5" are one level.
export function priceKey(text) {
  let s = String(text).trim();
  if (/e/i.test(s)) return String(Number(s));
  let sign = "";
  if (s.startsWith("-") || s.startsWith("+")) {
    sign = s[0] === "-" ? "-" : "";
    s = s.slice(1);
  }
  let [whole, frac = ""] = s.split(".");
  whole = whole.replace(/^0+(?=\d)/, "") || "0";
  frac = frac.replace(/0+$/, "");
  return sign + (frac ? `${whole}.${frac}` : whole);
}

// Venues keep their colour wherever they appear.
const VENUE_COLOURS = {
  BINANCE: "#f0b90b",
  BITFINEX: "#16b157",
  BITFLYER: "#4aa3ff",
  BITMEX: "#e8503a",
  BITSTAMP: "#5ecf8a",
  BYBIT: "#f7a600",
  COINBASE: "#1f6fff",
  DERIBIT: "#17c3b2",
  GEMINI: "#7fd8ff",
  HITBTC: "#a06cd5",
  KRAKEN: "#d16cf5",
  OKX: "#d0d0d0",
  POLONIEX: "#2bb8a3",
};
const SPARE = ["#ff7eb6", "#ffb86b", "#9be564", "#6bd3ff", "#c39bff", "#ff6b6b"];

export function venueColour(tag) {
  const venue = String(tag).split(".")[0];
  if (VENUE_COLOURS[venue]) return VENUE_COLOURS[venue];
  let h = 0;
  for (const c of String(tag)) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return SPARE[h % SPARE.length];
}
