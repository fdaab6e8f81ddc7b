// stagekit's interactive discovery graph: sigma.js (WebGL) over a graphology graph.
// One module serves the anywidget view in Jupyter (render({model, el})) and the offline
// HTML export (window.stagekitGraph.render with a model made of the embedded data).
// Python sends snapshots (columns of units and edges, positions already computed); this
// file only turns them into the graph on screen: aggregation per depth x kind, expanding
// a group on click, filters, colours, sizes, tooltips and the selection panel.
import Graph from "graphology";
import forceAtlas2 from "graphology-layout-forceatlas2";
import Sigma from "sigma";
import { NodePointProgram } from "sigma/rendering";

const PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b",
  "#9d755d", "#ff9da6", "#bab0ac"];
const STATUS = { discovered: "#bab0ac", downloaded: "#54a24b", existing: "#4c78a8",
  deferred: "#eeca3b", failed: "#e45756", skipped: "#9d755d" };
const PATH = "#d62728";
const CONFLICT = "#9467bd";
const NO_CONFLICT = "#c8c8c8";
const GHOST_ALPHA = 0.35;
const CHANGES = ["added", "removed", "changed", "unchanged"];
// Past these sizes sigma's own large-graph settings apply (see tune()).
const LARGE_NODES = 2000;
const LARGE_EDGES = 2000;
const CSS = `
.sk-graph{font:12px sans-serif;color:#222;border:1px solid #ddd;border-radius:4px;position:relative}
.sk-bar{display:flex;flex-wrap:wrap;gap:6px;align-items:center;padding:4px 6px;background:#f7f7f7}
.sk-bar select,.sk-bar input,.sk-bar button{font-size:12px}
.sk-main{display:flex}
.sk-canvas{flex:1;height:520px;position:relative;background:#fff}
.sk-side{width:260px;max-height:520px;overflow:auto;padding:6px;border-left:1px solid #eee}
.sk-side ul{margin:2px 0;padding-left:16px}.sk-side li{cursor:pointer;word-break:break-all}
.sk-tip{position:absolute;pointer-events:none;background:rgba(255,255,255,.95);border:1px solid #999;
 padding:4px 6px;white-space:pre;z-index:10;display:none;font:11px monospace}
.sk-status{margin-left:auto;color:#555}
.sk-depths{padding:4px 6px;border-top:1px solid #eee}
.sk-depths td{padding:0 4px}.sk-seg{display:inline-block;height:9px}
.sk-legend{display:flex;flex-wrap:wrap;gap:10px;padding:3px 6px;border-top:1px solid #eee}
.sk-legend span{white-space:nowrap}.sk-dot{display:inline-block;width:10px;height:10px;
 border-radius:50%;margin-right:3px;vertical-align:middle}`;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function select(name, options, value) {
  const s = el("select", { "data-control": name });
  for (const [v, label] of options) {
    const o = el("option", { value: v, text: label });
    if (v === value) o.selected = true;
    s.append(o);
  }
  return s;
}

function globRegex(glob) {
  const body = glob.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp("^" + body + "$");
}

function faded(hex, alpha = GHOST_ALPHA) {
  const v = parseInt(hex.slice(1), 16);
  return `rgba(${(v >> 16) & 255},${(v >> 8) & 255},${v & 255},${alpha})`;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i ? `${n.toFixed(1)} ${units[i]}` : `${n} B`;
}

const text = (view) => new TextDecoder().decode(view);
// A copy, so that the typed array starts aligned whatever the buffer's offset.
const typed = (Type, view) => new Type(view.buffer.slice(view.byteOffset,
  view.byteOffset + view.byteLength));

// The widget's payload (stagekit/notebook/payload.py): numeric columns as binary buffers.
function decodePayload(p) {
  const d = JSON.parse(text(p.meta));
  d.keys = JSON.parse(text(p.keys));
  for (const name of ["kind", "status", "depth", "src", "dst", "rel"]) d[name] = typed(Int32Array, p[name]);
  d.size = Array.from(typed(Float64Array, p.size), (v) => (Number.isNaN(v) ? null : v));
  if (p.x) d.x = typed(Float64Array, p.x);
  if (p.order) {
    const order = typed(Int32Array, p.order);
    d.order = {};
    let at = 0;
    for (const [depth, count] of d.order_layers) { d.order[depth] = order.subarray(at, at + count); at += count; }
  }
  return d;
}

function shortLabel(key, kind) {
  // As stagekit.notebook.tree_svg.short_label: no kind prefix, the end of long keys.
  const t = kind && key.startsWith(kind + ":") ? key.slice(kind.length + 1) : key;
  return t.length <= 28 ? t : "…" + t.slice(-27);
}

// The units as columns, as Python sent them, with lookups built once per snapshot.
function readSnapshot(d) {
  const n = d.keys.length;
  if (!d.x) {
    // A live snapshot sends each layer's order; x is the place in the layer.
    d.x = new Float64Array(n);
    for (const ids of Object.values(d.order || {})) {
      ids.forEach((i, p) => { d.x[i] = (p + 0.5) / ids.length; });
    }
  }
  const index = new Map(d.keys.map((k, i) => [k, i]));
  const parents = Array.from({ length: n }, () => []);
  const children = Array.from({ length: n }, () => []);
  for (let e = 0; e < d.src.length; e++) {
    parents[d.dst[e]].push(e);
    children[d.src[e]].push(e);
  }
  const conflict = new Map((d.conflict_nodes || []).map((i, j) => [i, d.conflict_ga[j]]));
  const errors = new Map((d.error_nodes || []).map((i, j) => [i, d.error_text[j]]));
  const change = new Map();
  const ghosts = new Set();
  if (d.diff) {
    for (const c of ["added", "removed", "changed"]) for (const i of d.diff[c]) change.set(i, c);
    for (const i of d.diff.ghosts) ghosts.add(i);
  }
  return { ...d, n, index, parents, children, conflict, errors, change, ghosts,
    path: new Set(d.path || []) };
}

function subtreeSizes(s) {
  // Each unit counted under one parent one depth up (a spanning tree), deepest first.
  const size = new Float64Array(s.n).fill(1);
  const order = [...Array(s.n).keys()].sort((a, b) => s.depth[b] - s.depth[a]);
  for (const i of order) {
    const e = s.parents[i].find((e) => s.depth[s.src[e]] === s.depth[i] - 1);
    if (e !== undefined) size[s.src[e]] += size[i];
  }
  return size;
}

export function render({ model, el: root }) {
  const state = { expanded: new Set(), selected: null, snap: null, subtree: null };
  root.classList.add("sk-graph");
  root.append(el("style", { text: CSS }));
  const colours = [["kind", "colour: kind"], ["status", "colour: status"],
    ["conflict", "colour: conflicts"]];
  if (model.get("color_by") === "diff") colours.push(["diff", "colour: what changed"]);
  const colour = select("color", colours, model.get("color_by") || "kind");
  const sizeBy = select("size", [["none", "size: same"], ["subtree", "size: subtree"],
    ["bytes", "size: bytes"]], model.get("size_by") || "none");
  const layout = select("layout", [["layered", "layout: by depth"], ["force", "layout: force"]],
    model.get("layout") || "layered");
  const view = select("view", [["auto", "view: auto"], ["groups", "view: depth x kind"],
    ["units", "view: every unit"]], "auto");
  const kindF = select("kind", [["", "any kind"]], "");
  const statusF = select("status", [["", "any status"]], "");
  const depthF = el("input", { "data-control": "depth", placeholder: "depths e.g. 2-4", size: 9 });
  const keyF = el("input", { "data-control": "key", placeholder: "key glob", size: 14 });
  const collapse = el("button", { "data-control": "collapse", text: "collapse all" });
  const status = el("span", { class: "sk-status" });
  const canvas = el("div", { class: "sk-canvas" });
  const tip = el("div", { class: "sk-tip" });
  const side = el("div", { class: "sk-side", text: "Hover a unit for its key; click one for "
    + "its parents and children; click a group to expand it." });
  const depths = el("div", { class: "sk-depths" });
  const legend = el("div", { class: "sk-legend" });
  canvas.append(tip);
  root.append(el("div", { class: "sk-bar" }, colour, sizeBy, layout, view, kindF, statusF,
    depthF, keyF, collapse, status), el("div", { class: "sk-main" }, canvas, side), legend,
  depths);

  const graph = new Graph({ multi: false, type: "directed" });
  let renderer = null;

  function keep(s, i) {
    if (kindF.value && s.kinds[s.kind[i]] !== kindF.value) return false;
    if (statusF.value && s.statuses[s.status[i]] !== statusF.value) return false;
    const dv = depthF.value.trim();
    if (dv) {
      const m = dv.match(/^(\d+)(?:\s*-\s*(\d+))?$/);
      if (m && (s.depth[i] < +m[1] || s.depth[i] > +(m[2] ?? m[1]))) return false;
    }
    const kv = keyF.value.trim();
    return !kv || globRegex(kv).test(s.keys[i]);
  }

  function changeColour(s, change) {
    return (s.diff && s.diff.colours[change]) || "#d8d8d8";
  }

  function colourOf(s, i) {
    let c;
    if (colour.value === "status") c = STATUS[s.statuses[s.status[i]]] || "#888";
    else if (colour.value === "conflict") c = s.conflict.has(i) ? CONFLICT : NO_CONFLICT;
    else if (colour.value === "diff") c = changeColour(s, s.change.get(i) || "unchanged");
    else c = PALETTE[s.kind[i] % PALETTE.length];
    return s.ghosts.has(i) ? faded(c) : c;
  }

  // What each colour means, for the current colour mode, with counts.
  function drawLegend(s) {
    const entries = [];
    const count = (pred) => { let c = 0; for (let i = 0; i < s.n; i++) if (pred(i)) c++; return c; };
    if (colour.value === "diff" && s.diff) {
      const changed = s.diff.added.length + s.diff.removed.length + s.diff.changed.length;
      for (const c of CHANGES) {
        const n = c === "unchanged" ? s.n - changed : s.diff[c].length;
        entries.push([changeColour(s, c), `${c}${c === "removed" ? " (faded: ghosts)" : ""}`, n]);
      }
    } else if (colour.value === "status") {
      s.statuses.forEach((name, k) => entries.push([STATUS[name] || "#888", name,
        count((i) => s.status[i] === k)]));
    } else if (colour.value === "conflict") {
      entries.push([CONFLICT, "group:artifact at several versions", s.conflict.size],
        [NO_CONFLICT, "no conflict", s.n - s.conflict.size]);
    } else {
      s.kinds.forEach((name, k) => entries.push([PALETTE[k % PALETTE.length], name,
        count((i) => s.kind[i] === k)]));
    }
    const items = entries.map(([c, name, n]) => el("span", { "data-entry": name },
      el("i", { class: "sk-dot", style: `background:${c}` }), `${name}: ${n.toLocaleString()}`));
    if (s.path.size > 1) {
      items.push(el("span", {}, el("i", { class: "sk-dot", style: `background:${PATH}` }),
        "deepest chain"));
    }
    legend.replaceChildren(...items);
    root.dataset.legend = entries.map(([, name, n]) => `${name}=${n}`).join(";");
  }

  // The nodes and edges to show: units, or depth x kind groups for the rest.
  function desired() {
    const s = state.snap;
    const shown = [];
    for (let i = 0; i < s.n; i++) if (keep(s, i)) shown.push(i);
    const grouped = view.value === "groups"
      || (view.value === "auto" && shown.length > (model.get("aggregate_above") || 2000));
    const nodes = new Map();
    const rep = new Map();
    const layers = new Map();
    const unitsPerLayer = new Map();
    for (const i of shown) {
      const gid = `group:${s.depth[i]}:${s.kinds[s.kind[i]]}`;
      if (grouped && !state.expanded.has(gid)) {
        rep.set(i, gid);
        let g = nodes.get(gid);
        if (!g) {
          g = { group: true, label: "", depth: s.depth[i], kindName: s.kinds[s.kind[i]],
            count: 0, bytes: 0, failed: 0, xs: 0, color: PALETTE[s.kind[i] % PALETTE.length],
            changes: { added: 0, removed: 0, changed: 0 } };
          nodes.set(gid, g);
          if (!layers.has(s.depth[i])) layers.set(s.depth[i], []);
          layers.get(s.depth[i]).push(gid);
        }
        g.count++; g.bytes += s.size[i] || 0; g.failed += s.statuses[s.status[i]] === "failed";
        g.xs += s.x[i];
        if (s.change.has(i)) g.changes[s.change.get(i)]++;
      } else {
        rep.set(i, s.keys[i]);
        unitsPerLayer.set(s.depth[i], (unitsPerLayer.get(s.depth[i]) || 0) + 1);
        nodes.set(s.keys[i], { i, x: s.x[i], y: -s.depth[i], color: colourOf(s, i),
          label: shortLabel(s.keys[i], s.kinds[s.kind[i]]) + (s.ghosts.has(i) ? " (removed)" : ""),
          forceLabel: s.path.has(i) });
      }
    }
    const nLayers = Object.keys(s.layer_sizes || { 0: 1 }).length;
    const xSpan = Math.max(2, 1.6 * nLayers, 1.2 * Math.sqrt(Math.max(0, ...unitsPerLayer.values())));
    for (const g of nodes.values()) g.x *= xSpan;
    for (const ids of layers.values()) {
      ids.sort((a, b) => nodes.get(a).xs / nodes.get(a).count - nodes.get(b).xs / nodes.get(b).count);
      ids.forEach((gid, j) => {
        const g = nodes.get(gid);
        g.x = ((j + 0.5) / ids.length) * xSpan; g.y = -g.depth;
        g.label = `${g.count.toLocaleString()} ${g.kindName}`; g.forceLabel = true;
        if (colour.value === "status" && g.failed) g.color = STATUS.failed;
        if (colour.value === "diff") {
          // A group takes the colour of its most frequent change, grey when none.
          const [top, n] = Object.entries(g.changes).sort((a, b) => b[1] - a[1])[0];
          g.color = changeColour(s, n ? top : "unchanged");
        }
      });
    }
    const top = Math.max(1, ...[...nodes.values()].filter((g) => g.group).map((g) => g.count));
    const edges = new Map();
    for (let e = 0; e < s.src.length; e++) {
      const a = rep.get(s.src[e]), b = rep.get(s.dst[e]);
      if (a === undefined || b === undefined || a === b) continue;
      const id = `${a}>${b}`;
      const onPath = s.path.has(s.src[e]) && s.path.has(s.dst[e])
        && s.depth[s.dst[e]] === s.depth[s.src[e]] + 1 && nodes.get(a).i !== undefined
        && nodes.get(b).i !== undefined;
      const old = edges.get(id);
      if (old) { old.weight++; continue; }
      const ghost = s.ghosts.has(s.src[e]) || s.ghosts.has(s.dst[e]);
      edges.set(id, { a, b, weight: 1, rel: s.relations[s.rel[e]] || "", onPath, ghost });
    }
    return { nodes, edges, top, grouped, shown: shown.length };
  }

  function sizeOf(s, g, top) {
    if (g.group) return 4 + 14 * Math.sqrt(g.count / top);
    if (sizeBy.value === "bytes") return 2 + 10 * Math.sqrt((s.size[g.i] || 0) / (s.max_size || 1));
    if (sizeBy.value === "subtree") {
      state.subtree = state.subtree || subtreeSizes(s);
      return 2 + 3 * Math.log2(state.subtree[g.i]);
    }
    const base = s.n < 200 ? 6 : s.n < 5000 ? 4 : 2;
    return s.path.has(g.i) ? base + 2 : base;
  }

  function draw() {
    const s = state.snap;
    if (!s) return;
    const want = desired();
    // One vertex per node (gl.POINTS) instead of a triangle: a third of the vertices to
    // draw, twice per frame (picking and display), where thousands of tiny nodes show.
    const pointNodes = want.nodes.size > LARGE_NODES;
    for (const node of graph.nodes()) if (!want.nodes.has(node)) graph.dropNode(node);
    for (const [id, g] of want.nodes) {
      const attrs = { x: g.x, y: g.y, size: sizeOf(s, g, want.top), color: g.color,
        type: pointNodes ? "point" : "circle",
        label: g.label, forceLabel: g.forceLabel, group: !!g.group, i: g.i ?? -1,
        count: g.count || 0, bytes: g.bytes || 0, failed: g.failed || 0, depth: g.depth ?? s.depth[g.i],
        changes: g.changes || null,
        kindName: g.kindName || s.kinds[s.kind[g.i]],
        borderColor: s.conflict.has(g.i) ? CONFLICT : null };
      if (graph.hasNode(id)) graph.mergeNodeAttributes(id, attrs); else graph.addNode(id, attrs);
    }
    for (const edge of graph.edges()) if (!want.edges.has(edge)) graph.dropEdge(edge);
    const topW = Math.max(1, ...[...want.edges.values()].map((e) => e.weight));
    for (const [id, e] of want.edges) {
      const attrs = { size: e.onPath ? 2.5 : want.grouped ? 0.5 + 5 * e.weight / topW : 0.5,
        color: e.onPath ? PATH : e.ghost ? faded(changeColour(s, "removed")) : "#bbb",
        rel: e.rel, weight: e.weight, zIndex: e.onPath ? 1 : 0 };
      if (graph.hasEdge(id)) graph.mergeEdgeAttributes(id, attrs);
      else graph.addDirectedEdgeWithKey(id, e.a, e.b, attrs);
    }
    if (layout.value === "force" && graph.order > 1) {
      forceAtlas2.assign(graph, { iterations: graph.order > 5000 ? 20 : 100,
        settings: forceAtlas2.inferSettings(graph) });
    }
    root.dataset.nodes = String(graph.order);
    root.dataset.edges = String(graph.size);
    root.dataset.units = String(s.n);
    root.dataset.mode = want.grouped ? "groups" : "units";
    root.dataset.ghosts = String(s.ghosts.size);
    root.dataset.color = colour.value;
    status.textContent = `${graph.order.toLocaleString()} nodes shown · `
      + `${want.shown.toLocaleString()} of ${s.n.toLocaleString()} units`
      + (s.total > s.n ? ` (of ${s.total.toLocaleString()} in the run)` : "")
      + (s.running ? " · running" : "");
    drawDepths(s);
    drawLegend(s);
    if (!renderer) start(); else { tune(); renderer.refresh(); }
  }

  function drawDepths(s) {
    const table = new Map();
    for (let i = 0; i < s.n; i++) {
      if (s.ghosts.has(i)) continue; // units of the older run only
      const row = table.get(s.depth[i]) || new Map();
      row.set(s.kind[i], (row.get(s.kind[i]) || 0) + 1);
      table.set(s.depth[i], row);
    }
    const top = Math.max(1, ...[...table.values()].map((r) => [...r.values()].reduce((a, b) => a + b, 0)));
    const rows = [...table.keys()].sort((a, b) => a - b).map((d) => {
      const row = table.get(d);
      const total = [...row.values()].reduce((a, b) => a + b, 0);
      const segs = [...row.entries()].map(([k, c]) => el("span", { class: "sk-seg",
        title: `${s.kinds[k]}: ${c}`, style: `width:${Math.max(1, 240 * c / top)}px;`
        + `background:${PALETTE[k % PALETTE.length]}` }));
      return el("tr", {}, el("td", { text: `depth ${d}` }), el("td", { text: total.toLocaleString() }),
        el("td", {}, ...segs));
    });
    depths.replaceChildren(el("table", {}, ...rows));
  }

  function tipText(node) {
    const a = graph.getNodeAttributes(node);
    const s = state.snap;
    if (a.group) {
      const ch = s.diff ? `\n${Object.entries(a.changes).map(([c, n]) => `${n} ${c}`).join(", ")}` : "";
      return `${a.count.toLocaleString()} units of ${a.kindName} at depth ${a.depth}\n`
        + `${bytes(a.bytes)}, ${a.failed} failed${ch}\nclick to expand`;
    }
    const i = a.i;
    const lines = [s.keys[i], `kind: ${s.kinds[s.kind[i]]}`, `depth: ${s.depth[i]}`,
      `status: ${s.statuses[s.status[i]]}`];
    if (s.size[i] !== null) lines.push(`size: ${bytes(s.size[i])}`);
    if (s.errors.has(i)) lines.push(`error: ${s.errors.get(i)}`);
    if (s.conflict.has(i)) lines.push(`conflict: ${s.conflict.get(i)} at several versions`);
    if (s.path.has(i)) lines.push("on the deepest chain");
    if (s.ghosts.has(i)) lines.push("change: removed (only in the older run)");
    else if (s.change.has(i)) lines.push(`change: ${s.change.get(i)}`);
    return lines.join("\n");
  }

  function showTip(text, event) {
    tip.textContent = text;
    tip.style.display = "block";
    tip.style.left = `${event.x + 12}px`;
    tip.style.top = `${event.y + 12}px`;
  }

  function selectUnit(i) {
    const s = state.snap;
    state.selected = i;
    const link = (e, end) => {
      const j = s[end][e];
      const li = el("li", { text: `${s.keys[j]} (${s.relations[s.rel[e]] || "?"})` });
      li.onclick = () => selectUnit(j);
      return li;
    };
    const row = el("table", {}, ...[["key", s.keys[i]], ["kind", s.kinds[s.kind[i]]],
      ["depth", s.depth[i]], ["status", s.statuses[s.status[i]]],
      ["size", s.size[i] === null ? "" : s.size[i].toLocaleString()],
      ["error", s.errors.get(i) || ""], ["conflict", s.conflict.get(i) || ""],
      ...(s.diff ? [["change", s.change.get(i) || "unchanged"]] : [])]
      .map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { text: String(v) }))));
    side.replaceChildren(el("b", { text: "Selected" }), row,
      el("b", { text: `Parents (${s.parents[i].length})` }),
      el("ul", {}, ...s.parents[i].slice(0, 200).map((e) => link(e, "src"))),
      el("b", { text: `Children (${s.children[i].length})` }),
      el("ul", {}, ...s.children[i].slice(0, 200).map((e) => link(e, "dst"))));
    root.dataset.selected = s.keys[i];
  }

  // sigma's settings for the graph's current size (it grows while a run goes on): while
  // the camera moves a large graph is drawn without edges and labels, labels show only for
  // nodes drawn big enough (or forced: the deepest chain, groups), and edges are not
  // hover targets (an extra picking pass over every edge per frame).
  function tune() {
    const large = graph.order > LARGE_NODES || graph.size > LARGE_EDGES;
    const settings = {
      hideEdgesOnMove: large, hideLabelsOnMove: large,
      labelRenderedSizeThreshold: large ? 8 : 5,
      enableEdgeEvents: graph.size <= LARGE_EDGES,
    };
    for (const [k, v] of Object.entries(settings)) {
      if (renderer.getSetting(k) !== v) renderer.setSetting(k, v);
    }
  }

  function start() {
    renderer = new Sigma(graph, canvas, {
      renderEdgeLabels: false, zIndex: true, labelRenderedSizeThreshold: 5,
      defaultEdgeType: "line", labelDensity: 0.5, labelGridCellSize: 200,
      nodeProgramClasses: { point: NodePointProgram },
      allowInvalidContainer: true,
      nodeReducer: (node, data) => (state.selected !== null && data.i === state.selected
        ? { ...data, highlighted: true } : data),
    });
    tune();
    renderer.on("enterNode", ({ node, event }) => showTip(tipText(node), event));
    renderer.on("leaveNode", () => { tip.style.display = "none"; });
    renderer.on("enterEdge", ({ edge, event }) => {
      const a = graph.getEdgeAttributes(edge);
      const [src, dst] = graph.extremities(edge);
      showTip(`${src} → ${dst}\n${a.weight > 1 ? `${a.weight} edges` : a.rel}`, event);
    });
    renderer.on("leaveEdge", () => { tip.style.display = "none"; });
    renderer.on("clickNode", ({ node }) => {
      const a = graph.getNodeAttributes(node);
      if (a.group) { state.expanded.add(node); draw(); } else { selectUnit(a.i); renderer.refresh(); }
    });
    root.__stagekit = { renderer, graph, state };
    // In Jupyter the view may be drawn before it is attached (no size yet): follow its size.
    if (typeof ResizeObserver !== "undefined") {
      state.resize = new ResizeObserver(() => { if (renderer) { renderer.resize(); renderer.refresh(); } });
      state.resize.observe(canvas);
    }
  }

  function current() {
    const p = model.get("payload");
    return p && p.meta ? decodePayload(p) : model.get("data");
  }

  function update() {
    state.snap = readSnapshot(current());
    state.subtree = null;
    const s = state.snap;
    if (s.diff && ![...colour.options].some((o) => o.value === "diff")) {
      colour.append(el("option", { value: "diff", text: "colour: what changed" }));
    }
    for (const [sel, names] of [[kindF, s.kinds], [statusF, s.statuses]]) {
      const have = new Set([...sel.options].map((o) => o.value));
      for (const name of names) if (!have.has(name)) sel.append(el("option", { value: name, text: name }));
    }
    draw();
  }

  for (const control of [colour, sizeBy, layout, view, kindF, statusF]) control.onchange = draw;
  for (const control of [depthF, keyF]) control.oninput = draw;
  collapse.onclick = () => { state.expanded.clear(); draw(); };
  model.on("change:payload", update);
  model.on("change:data", update);
  const first = model.get("payload");
  if ((first && first.meta) || (model.get("data") && model.get("data").keys)) update();
  return () => {
    model.off("change:payload", update);
    model.off("change:data", update);
    if (state.resize) state.resize.disconnect();
    if (renderer) renderer.kill();
    renderer = null;
  };
}

const api = { render };
if (typeof window !== "undefined") window.stagekitGraph = api;
export default api;
