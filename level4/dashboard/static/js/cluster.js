// The cluster panel: every node, whether it is live, its markets and its load.
// Hidden on a single node (GET /cluster answers 404 there).

import { el, setText } from "./dom.js";

export class ClusterView {
  constructor(panel, table, title) {
    this.panel = panel;
    this.tbody = table.tBodies[0];
    this.title = title;
  }

  none() {
    this.panel.hidden = true;
  }

  show(cluster, tags) {
    this.panel.hidden = false;
    setText(this.title, `Cluster · this node: ${cluster.node}`);
    const rows = cluster.nodes.map((n) =>
      el(
        "tr",
        { class: n.name === cluster.node ? "selected" : "" },
        el("td", { text: n.name }),
        el("td", { class: "status", dataset: { status: n.alive ? "live" : "failed" }, text: n.alive ? "live" : "gone" }),
        el("td", { class: "num", text: String(n.markets.length) }),
        el("td", { class: "num", text: String(n.load) }),
        el("td", { class: "tag", text: n.markets.map((id) => tags.get(id) || `#${id}`).join(", "), title: n.url }),
      ),
    );
    this.tbody.replaceChildren(...rows);
  }
}
