// A depth chart on a canvas: cumulative size against price, bids stepping
// down to the left of the spread, asks up to the right.

const COLOURS = {
  bid: "#27c281",
  bidFill: "rgba(39, 194, 129, 0.22)",
  ask: "#f0524d",
  askFill: "rgba(240, 82, 77, 0.22)",
  axis: "#8a93a6",
  grid: "rgba(138, 147, 166, 0.15)",
};

function cumulate(levels) {
  let total = 0;
  return levels.map((level) => {
    total += Number(level[1]);
    return [Number(level[0]), total];
  });
}

export function drawDepth(canvas, bids, asks) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  canvas.dataset.levels = String(bids.length + asks.length);
  if (!bids.length && !asks.length) {
    ctx.fillStyle = COLOURS.axis;
    ctx.font = "13px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.fillText("no book", width / 2, height / 2);
    return;
  }
  const b = cumulate(bids);
  const a = cumulate(asks);
  const pad = { left: 56, right: 12, top: 10, bottom: 24 };
  const prices = [...b, ...a].map((p) => p[0]);
  let lo = Math.min(...prices);
  let hi = Math.max(...prices);
  if (hi === lo) {
    lo -= 1;
    hi += 1;
  }
  const top = Math.max(b.length ? b[b.length - 1][1] : 0, a.length ? a[a.length - 1][1] : 0) * 1.08 || 1;
  const x = (price) => pad.left + ((price - lo) / (hi - lo)) * (width - pad.left - pad.right);
  const y = (size) => height - pad.bottom - (size / top) * (height - pad.top - pad.bottom);

  ctx.strokeStyle = COLOURS.grid;
  ctx.lineWidth = 1;
  ctx.fillStyle = COLOURS.axis;
  ctx.font = "11px ui-monospace, monospace";
  ctx.textAlign = "right";
  for (let i = 0; i <= 4; i++) {
    const size = (top / 4) * i;
    ctx.beginPath();
    ctx.moveTo(pad.left, y(size));
    ctx.lineTo(width - pad.right, y(size));
    ctx.stroke();
    ctx.fillText(size.toPrecision(3), pad.left - 6, y(size) + 4);
  }

  // One stepped area per side, from the best price outwards.
  const side = (points, line, fill) => {
    if (!points.length) return;
    ctx.beginPath();
    ctx.moveTo(x(points[0][0]), y(0));
    let previous = 0;
    for (const [price, total] of points) {
      ctx.lineTo(x(price), y(previous));
      ctx.lineTo(x(price), y(total));
      previous = total;
    }
    const edge = points === b ? lo : hi;
    ctx.lineTo(x(edge), y(previous));
    ctx.lineTo(x(edge), y(0));
    ctx.closePath();
    ctx.fillStyle = fill;
    ctx.fill();
    ctx.strokeStyle = line;
    ctx.lineWidth = 1.5;
    ctx.stroke();
  };
  side(b, COLOURS.bid, COLOURS.bidFill);
  side(a, COLOURS.ask, COLOURS.askFill);

  ctx.fillStyle = COLOURS.axis;
  ctx.textAlign = "left";
  ctx.fillText(String(bids.length ? bids[bids.length - 1][0] : lo), pad.left, height - 6);
  ctx.textAlign = "right";
  ctx.fillText(String(asks.length ? asks[asks.length - 1][0] : hi), width - pad.right, height - 6);
  if (bids.length && asks.length) {
    const mid = (Number(bids[0][0]) + Number(asks[0][0])) / 2;
    ctx.textAlign = "center";
    ctx.fillText(`${bids[0][0]} | ${asks[0][0]}`, x(mid), height - 6);
  }
}
