// The dashboard: wires the views to the stream and to the periodic reads
// of what the stream has no channel for (the catalogue, the counters).

import { goToMarket, marketInAddress, onAddressChange } from "./address.js";
import { $, setText } from "./dom.js";
import { askToken, getJSON, getText, send } from "./api.js";
import { ClusterView } from "./cluster.js";
import { ConsolidatedView } from "./consolidated.js";
import { MarketView } from "./market.js";
import { MarketsTable } from "./markets.js";
import { marketFigures, parseMetrics, Rates, scalar } from "./metrics.js";
import { Stream } from "./stream.js";
import { VenuesView } from "./venues.js";

const LIST_MS = 2000;
const CLUSTER_MS = 2000;
const METRICS_MS = 2000;
const VENUES_MS = 1000; // a backoff's time left counts down

function notice(text) {
  setText($("#notice"), text);
}

const stream = new Stream({
  onEvent: (message) => {
    if (message.channel === "status") table.status(message.market_id, message);
    else if (message.channel === "consolidated") consolidated.event(message);
    else market.event(message);
  },
  onState: (state) => {
    const pill = $("#stream-state");
    pill.dataset.state = state;
    setText(pill, `stream: ${state}`);
  },
});

const market = new MarketView(stream);
const consolidated = new ConsolidatedView(stream);
const table = new MarketsTable($("#markets"), $("#markets-empty"), {
  onSelect: (m) => goToMarket(m.id),
  onToggle: async (m, button) => {
    button.disabled = true;
    try {
      await send("PATCH", `markets/${m.id}`, { level4_feed_enabled: !m.level4_feed_enabled });
      notice(`${m.tag}: feed switched ${m.level4_feed_enabled ? "off" : "on"}`);
      await listMarkets();
    } catch (error) {
      notice(`${m.tag}: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  },
});

let listed = false; // the catalogue has been read once: a market missing from it is missing

// Show the market the address names (/#market=ID), or none.
function follow() {
  const id = marketInAddress();
  table.select(id);
  const named = id === null ? undefined : table.markets.get(id);
  if (id === null) market.clear();
  else if (named) market.show(named);
  else if (listed) market.missing(id);
}

async function listMarkets() {
  const since = performance.now();
  const markets = await getJSON("markets");
  table.list(markets, since);
  listed = true;
  follow(); // an address opened directly names a market only the first listing knows
  stream.track("status", markets.map((m) => m.id));
  consolidated.offer(markets);
  const live = markets.filter((m) => m.status === "live").length;
  const connections = table.connections();
  setText($("#summary"), `${markets.length} markets · ${live} live · ${connections} venue connections`);
}

const cluster = new ClusterView($("#cluster-panel"), $("#cluster"), $("#cluster-title"));
let single = false; // a single node (no name): /cluster is not asked again

async function readCluster() {
  if (single) return;
  const answer = await getJSON("cluster");
  if (answer.node === null) {
    single = true;
    cluster.none();
    return;
  }
  cluster.show(answer, new Map([...table.markets.values()].map((m) => [m.id, m.tag])));
}

const rates = new Rates();
const venues = new VenuesView($("#venues"), $("#venues-empty"));

async function readVenues() {
  venues.show(await getJSON("venues"));
}

async function readMetrics() {
  const families = parseMetrics(await getText("metrics"));
  const figures = marketFigures(families);
  rates.update(figures, performance.now());
  table.figures(figures, rates);
  const clients = scalar(families, "level4_stream_clients");
  if (clients !== undefined) $("#summary").dataset.clients = String(clients);
}

function every(ms, task, what) {
  const run = async () => {
    try {
      await task();
    } catch (error) {
      notice(`${what}: ${error.message}`);
    }
    setTimeout(run, ms);
  };
  run();
}

$("#token-button").addEventListener("click", async () => {
  if ((await askToken("The API token, for switching feeds and for the stream.")) !== null) stream.restart();
});

onAddressChange(follow);
stream.connect();
every(LIST_MS, listMarkets, "markets");
every(METRICS_MS, readMetrics, "metrics");
every(CLUSTER_MS, readCluster, "cluster");
every(VENUES_MS, readVenues, "venues");
