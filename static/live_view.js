// The live view, drawn in the browser: headline numbers, charts, the architecture diagram, counts.
//
// Streamlit re-creates a chart element on every rerun, which can flash an empty frame while the
// browser lays it out again. This view instead keeps one Plotly chart per panel for the life of the
// page and updates it in place with Plotly.react, so a playing simulation never shows a blank chart.
// Python sends the whole view as data on every tick (dashboard/view/live_view.py); everything a
// scenario or a room could name is written with textContent, never parsed as markup.
//
// Plotly comes from the installed plotly package (served from /app/static/vendor/, no CDN).

const SVG = "http://www.w3.org/2000/svg";
const STATE_FILL = { idle: "#d9f2d9", busy: "#ffe4a8", saturated: "#f7b2b2", down: "#d0d0d0", users: "#e8eef7" };

let plotlyPromise = null;

function loadPlotly(base) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyPromise) {
    plotlyPromise = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = new URL("app/static/vendor/plotly.min.js", base).href;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => reject(new Error("plotly.min.js could not be loaded"));
      document.head.appendChild(script);
    });
  }
  return plotlyPromise;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function skeleton(root) {
  const view = el("div", "gsl-live");
  view.append(el("div", "gsl-notice"), el("div", "gsl-headline"), el("div", "gsl-charts"));
  const bottom = el("div", "gsl-bottom");
  const diagram = el("div", "gsl-diagram");
  diagram.append(el("div", "gsl-panel-title", "The architecture now"));
  const counts = el("div", "gsl-counts");
  bottom.append(diagram, counts);
  view.append(bottom);
  root.appendChild(view);
  return view;
}

function drawNotice(view, data) {
  const box = view.querySelector(".gsl-notice");
  box.replaceChildren();
  for (const text of data.notices || []) box.append(el("div", "gsl-notice-line", text));
  box.style.display = (data.notices || []).length ? "block" : "none";
}

function drawHeadline(view, data) {
  const strip = view.querySelector(".gsl-headline");
  const cells = data.headline || [];
  while (strip.children.length > cells.length) strip.lastChild.remove();
  cells.forEach((cell, index) => {
    let box = strip.children[index];
    if (!box) {
      box = el("div", "gsl-cell");
      box.append(el("div", "gsl-label"), el("div", "gsl-value"), el("div", "gsl-compare"));
      strip.appendChild(box);
    }
    const key = JSON.stringify(cell);
    if (box.dataset.key === key) return;  // unchanged: no write, no layout
    box.dataset.key = key;
    box.className = "gsl-cell" + (cell.watched ? " gsl-watched" : "");
    box.title = cell.help || "";
    box.dataset.metric = cell.metric || "";
    box.querySelector(".gsl-label").textContent = cell.label;
    box.querySelector(".gsl-value").textContent = cell.value;
    const compare = box.querySelector(".gsl-compare");
    compare.replaceChildren();
    if (cell.before !== undefined && cell.before !== null) {
      compare.append(el("span", "gsl-before", "before " + cell.before));
      if (cell.delta) compare.append(el("span", "gsl-delta gsl-" + (cell.verdict || "neutral"), cell.delta));
    }
  });
}

function drawCharts(view, data, Plotly) {
  const holder = view.querySelector(".gsl-charts");
  const charts = data.charts || [];
  const wanted = new Set(charts.map((chart) => chart.id));
  for (const box of Array.from(holder.children)) {
    if (!wanted.has(box.dataset.id)) { Plotly.purge(box); box.remove(); }
  }
  const boxes = charts.map((chart, index) => {
    let box = holder.querySelector(`[data-id="${chart.id}"]`);
    if (!box) {
      box = el("div", "gsl-chart");
      box.dataset.id = chart.id;
      const next = holder.children[index];
      holder.insertBefore(box, next || null);
    }
    const className = "gsl-chart" + (chart.wide ? " gsl-wide" : "");
    if (box.className !== className) box.className = className;
    return box;
  });
  // Every width is read before any chart is redrawn: one layout of the page per frame, not one per chart.
  const widths = boxes.map((box) => Math.floor(box.clientWidth));
  charts.forEach((chart, index) => {
    const box = boxes[index], width = widths[index];
    // A chart whose data did not change since the last frame is left alone: redrawing costs the
    // browser far more than anything else on the page.
    if (box.dataset.rev === chart.rev && box.dataset.width === String(width)) return;
    box.dataset.rev = chart.rev;
    box.dataset.width = String(width);
    box.style.minHeight = chart.figure.layout.height + "px";
    let plot = box.querySelector(".gsl-plot");
    if (!plot) {
      plot = el("div", "gsl-plot");
      box.append(plot, el("div", "gsl-legend"));
    }
    // The legend is drawn here, once per set of lines, not by Plotly on every redraw (a quarter of its cost).
    drawLegend(box.querySelector(".gsl-legend"), chart.figure.data);
    Plotly.react(plot, chart.figure.data, { ...chart.figure.layout, width, showlegend: false },
      { displayModeBar: false, staticPlot: true });
  });
}

function drawLegend(holder, traces) {
  const items = traces.filter((t) => t.showlegend !== false && t.name).map((t) => ({
    name: t.name, colour: (t.line && t.line.color) || (t.marker && t.marker.color) || "#444",
    dash: (t.line && t.line.dash) || "solid", faded: (t.opacity || 1) < 1, area: Boolean(t.stackgroup),
  }));
  const key = JSON.stringify(items);
  if (holder.dataset.key === key) return;
  holder.dataset.key = key;
  holder.replaceChildren();
  for (const item of items) {
    const entry = el("span", "gsl-legend-item" + (item.faded ? " gsl-faded" : ""));
    const swatch = el("span", "gsl-swatch" + (item.area ? " gsl-area" : ""));
    swatch.style.borderTopStyle = item.dash === "solid" ? "solid" : item.dash === "dot" ? "dotted" : "dashed";
    swatch.style.borderTopColor = item.colour;
    if (item.area) swatch.style.background = item.colour;
    entry.append(swatch, document.createTextNode(item.name));
    holder.append(entry);
  }
}

// Charts are sized to their panel once per frame instead of measuring themselves on every redraw.
let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const view of document.querySelectorAll(".gsl-live")) if (view.latest) render({ data: view.latest, parentElement: view.parentElement }, view.base);
  }, 150);
});

function drawDiagram(view, data) {
  const holder = view.querySelector(".gsl-diagram");
  const diagram = data.diagram;
  let svg = holder.querySelector("svg");
  if (!diagram || !diagram.columns) { if (svg) svg.remove(); return; }
  const key = JSON.stringify(diagram) + (data.presenter ? "P" : "");
  if (svg && holder.dataset.key === key) return;  // unchanged: nothing to redraw
  holder.dataset.key = key;
  const big = data.presenter;
  const font = big ? 17 : 12;
  const lineHeight = font + 5, nodeWidth = big ? 210 : 160, gap = big ? 56 : 44, padding = 8;
  const positions = {};
  let height = 0;
  const columns = diagram.columns;
  const boxes = columns.map((column) => column.map((node) => 2 * padding + lineHeight * (1 + node.lines.length)));
  const columnHeights = boxes.map((sizes) => sizes.reduce((a, b) => a + b, 0) + 12 * (sizes.length - 1));
  height = Math.max(...columnHeights, 60) + 16;
  const width = columns.length * nodeWidth + (columns.length - 1) * gap + 16;
  if (!svg) { svg = svgEl("svg", {}); holder.appendChild(svg); }
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", "100%");
  svg.setAttribute("preserveAspectRatio", "xMidYMin meet");
  svg.style.maxHeight = (big ? 600 : 460) + "px";
  svg.style.maxWidth = width * (big ? 1.3 : 1.1) + "px";
  svg.replaceChildren();
  const edgeLayer = svgEl("g", {}), nodeLayer = svgEl("g", {});
  svg.append(edgeLayer, nodeLayer);
  columns.forEach((column, c) => {
    const x = 8 + c * (nodeWidth + gap);
    let y = (height - columnHeights[c]) / 2;
    column.forEach((node, r) => {
      const h = boxes[c][r];
      positions[node.id] = { x, y, h, column: c };
      const group = svgEl("g", { "data-node": node.id });
      group.append(svgEl("rect", {
        x, y, width: nodeWidth, height: h, rx: 8,
        fill: STATE_FILL[node.state] || STATE_FILL.idle,
        stroke: node.bottleneck ? "#b00020" : "#667", "stroke-width": node.bottleneck ? 3.5 : 1,
      }));
      group.append(svgEl("text", { x: x + padding, y: y + padding + font, "font-size": font, "font-weight": "bold" }, node.title));
      node.lines.forEach((line, i) => {
        group.append(svgEl("text", { x: x + padding, y: y + padding + font + lineHeight * (i + 1), "font-size": font - 1 }, line));
      });
      nodeLayer.appendChild(group);
      y += h + 12;
    });
  });
  // Edges into a node from several nodes of one column are drawn as one, from the column's middle.
  const merged = new Map();
  for (const edge of diagram.edges || []) {
    const from = positions[edge.from], to = positions[edge.to];
    if (!from || !to) continue;
    const key = from.column + ">" + edge.to;
    const entry = merged.get(key) || { from: [], to: edge.to, rps: 0 };
    entry.from.push(edge.from);
    entry.rps += edge.rps;
    merged.set(key, entry);
  }
  const peak = Math.max(...Array.from(merged.values()).map((e) => e.rps), 1e-9);
  for (const edge of merged.values()) {
    const to = positions[edge.to];
    const sources = edge.from.map((id) => positions[id]);
    const x1 = sources[0].x + nodeWidth;
    const y1 = sources.length === 1 ? sources[0].y + sources[0].h / 2
      : (Math.min(...sources.map((s) => s.y)) + Math.max(...sources.map((s) => s.y + s.h))) / 2;
    const x2 = to.x, y2 = to.y + to.h / 2;
    const strokeWidth = edge.rps > 0 ? 1 + 9 * Math.sqrt(edge.rps / peak) : 1;
    edgeLayer.append(svgEl("line", { x1, y1, x2, y2, stroke: "#7a8aa0", "stroke-width": strokeWidth,
      "stroke-opacity": edge.rps > 0 ? 0.75 : 0.3, "stroke-linecap": "round" }));
    if (edge.rps >= 0.005) {
      const label = formatRate(edge.rps);
      edgeLayer.append(svgEl("text", { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 6, "font-size": font - 2,
        "text-anchor": "middle", fill: "#334" }, label));
    }
  }
}

function formatRate(value) {
  if (value >= 1000) return (value / 1000).toPrecision(3).replace(/\.?0+$/, "") + "k/s";
  if (value >= 10) return Math.round(value) + "/s";
  return value.toPrecision(2).replace(/\.?0+$/, "") + "/s";
}

function drawCounts(view, data) {
  const holder = view.querySelector(".gsl-counts");
  const counts = data.counts;
  const key = JSON.stringify(counts || null);
  if (holder.dataset.key === key) return;
  holder.dataset.key = key;
  holder.replaceChildren();
  if (!counts) return;
  holder.append(el("div", "gsl-panel-title", counts.title));
  const table = el("table", "gsl-table");
  const head = el("tr");
  for (const name of counts.columns) head.append(el("th", "", name));
  table.append(head);
  for (const row of counts.rows) {
    const line = el("tr");
    row.forEach((cell, i) => line.append(el(i ? "td" : "th", i ? "gsl-num" : "", cell)));
    table.append(line);
  }
  holder.append(table);
}

// A playing view that has not had a new frame for this long asks the page to run again: after a
// dropped connection the page's timer may not come back on its own (seen with a busy server).
const STALLED_MS = 4000;

function watch(view, component, data) {
  view.lastFrameAt = Date.now();
  view.playing = Boolean(data.playing);
  view.component = component;
  if (view.watchdog) return;
  view.watchdog = setInterval(() => {
    if (!view.isConnected) { clearInterval(view.watchdog); return; }
    const quiet = Date.now() - view.lastFrameAt;
    if (view.playing && quiet > STALLED_MS && Date.now() - (view.askedAt || 0) > STALLED_MS) {
      view.askedAt = Date.now();
      view.component.setTriggerValue("stalled", view.askedAt);
    }
  }, 1000);
}

export function render(component, base) {
  const { data, parentElement } = component;
  let view = parentElement.querySelector(".gsl-live");
  if (!view) view = skeleton(parentElement);
  view.latest = data;
  view.base = base;
  watch(view, component, data);
  const rest = () => {
    view.classList.toggle("gsl-presenter", Boolean(data.presenter));
    view.dataset.time = data.time || "";
    drawNotice(view, data);
    drawHeadline(view, data);
    drawDiagram(view, data);
    drawCounts(view, data);
  };
  if (window.Plotly) {
    // Charts first: they read the layout; everything after only writes, so the page is laid out once.
    drawCharts(view, data, window.Plotly);
    rest();
    return;
  }
  rest();
  loadPlotly(base).then((Plotly) => {
    if (view.latest === data) drawCharts(view, data, Plotly);
  });
}
