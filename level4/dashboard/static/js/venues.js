// The Venues panel, from GET /venues: per venue API and egress address, its
// connections (markets on each against its cap) and its limiter (how much of
// each of the venue's limits its window holds, who waits for a turn, and a
// backoff the venue imposed, with its reason and the time left).

import { age, el } from "./dom.js";

const LIMITS = [
  ["connect", "connects", "connection attempts"],
  ["send", "sends", "frames sent on the busiest connection"],
  ["rest", "REST weight", "REST request weight"],
];
const NEAR = 0.8; // a limit this full is shown as close

function number(value) {
  return Number.isInteger(value) ? value.toLocaleString("en") : value.toFixed(1);
}

function meter(fraction) {
  const fill = el("span", { class: "fill" });
  fill.style.width = `${Math.min(100, Math.max(0, fraction * 100))}%`;
  return el("span", { class: "meter" }, fill);
}

function limitRow(kind, label, what, limit) {
  const fraction = limit.limit > 0 ? limit.used / limit.limit : 0;
  const waiting = limit.queued > 0 ? ` · ${limit.queued} queued` : "";
  const per = kind === "send" ? "per second" : `per ${age(limit.window_seconds)}`;
  const row = el(
    "tr",
    {
      class: `limit${fraction >= NEAR ? " near" : ""}`,
      dataset: { kind, used: String(limit.used), limit: String(limit.limit), queued: String(limit.queued) },
      title: `${what}: ${number(limit.used)} used of ${number(limit.limit)} ${per}`,
    },
    el("td", { text: label }),
    el("td", { class: "barcell" }, meter(fraction)),
    el("td", { class: "num figure", text: `${number(limit.used)} / ${number(limit.limit)}` }),
    el("td", { class: "muted", text: `${per}${waiting}` }),
  );
  return row;
}

function connectionRow(conn) {
  const fraction = conn.cap > 0 ? conn.subscriptions / conn.cap : 0;
  return el(
    "tr",
    { class: "conn", dataset: { connection: conn.name, state: conn.state }, title: conn.url },
    el("td", { class: "name", text: conn.name }),
    el("td", { class: "state", text: conn.state }),
    el("td", { class: "barcell" }, meter(fraction)),
    el("td", { class: "num subs", text: `${conn.subscriptions} / ${conn.cap}` }),
  );
}

function venueBlock(venue) {
  const name = venue.api ? `${venue.venue}/${venue.api}` : venue.venue;
  const shared = venue.connections.filter((c) => c.shared);
  const own = venue.connections.filter((c) => !c.shared);
  const markets = venue.connections.reduce((n, c) => n + c.subscriptions, 0);
  const count = venue.connections.length;
  const head = el(
    "h3",
    {},
    el("span", { class: "venue-name", text: name }),
    el("span", {
      class: "muted conn-count",
      text: `${count} connection${count === 1 ? "" : "s"} · ${markets} market${markets === 1 ? "" : "s"}`,
    }),
  );
  if (venue.egress) head.append(el("span", { class: "muted", text: `via ${venue.egress}` }));
  const block = el("div", { class: "venue-block", dataset: { venue: venue.venue, api: venue.api } }, head);

  const limiter = venue.limiter;
  if (limiter && limiter.backoff) {
    const b = limiter.backoff;
    block.append(
      el("p", { class: "backoff", text: `backing off, ${age(b.seconds)} left: ${b.reason}` }),
    );
  }
  if (limiter) {
    const limits = el("table", { class: "limits" });
    for (const [kind, label, what] of LIMITS) limits.append(limitRow(kind, label, what, limiter[kind]));
    block.append(limits);
  }
  if (shared.length) {
    block.append(el("table", { class: "grid connections" }, ...shared.map(connectionRow)));
  }
  if (own.length) {
    const open = own.filter((c) => c.state === "open").length;
    block.append(
      el("p", {
        class: "muted own",
        text: `${own.length} market${own.length === 1 ? "" : "s"} on a connection of its own (${open} open): the venue cannot share one`,
      }),
    );
  }
  return block;
}

export class VenuesView {
  constructor(container, empty) {
    this.container = container;
    this.empty = empty;
    this.shown = "";
  }

  show(venues) {
    const answer = JSON.stringify(venues);
    if (answer === this.shown) return; // unchanged: the page is left alone
    this.shown = answer;
    this.container.replaceChildren(...venues.map(venueBlock));
    this.empty.hidden = venues.length > 0;
  }
}
