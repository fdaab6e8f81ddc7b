// From a snapshot to the graphology graph sigma draws: units, or depth x kind groups for
// the units not expanded, and the edges between what is shown. Each draw builds a fresh
// graph with no renderer listening (sigma then processes it once, in bulk): updating a
// graph a renderer listens to costs an event and a partial refresh per node.
import Graph from "graphology";
import { EdgeLineProgram } from "sigma/rendering";
import { shortLabel } from "./snapshot.js";

export const PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2",
  "#eeca3b", "#9d755d", "#ff9da6", "#bab0ac"];
export const STATUS = { discovered: "#bab0ac", downloaded: "#54a24b", existing: "#4c78a8",
  deferred: "#eeca3b", failed: "#e45756", skipped: "#9d755d" };
export const PATH = "#d62728";
export const CONFLICT = "#9467bd";
export const NO_CONFLICT = "#c8c8c8";
const GHOST_ALPHA = 0.35;
// Past these sizes sigma's large-graph settings apply (see sigmaSettings).
export const LARGE_NODES = 2000;
export const LARGE_EDGES = 2000;
// Edges drawn at most in one frame of a large graph: past it the thin edges show only when
// the view is zoomed in enough that about this many fall in it (the deepest chain always
// shows). Drawn in software, 65,000 edges take seconds per frame.
export const EDGE_BUDGET = 15000;

export function faded(hex, alpha = GHOST_ALPHA) {
  const v = parseInt(hex.slice(1), 16);
  return `rgba(${(v >> 16) & 255},${(v >> 8) & 255},${v & 255},${alpha})`;
}

export function changeColour(s, change) {
  return (s.diff && s.diff.colours[change]) || "#d8d8d8";
}

export function colourOf(s, i, mode) {
  let c;
  if (mode === "status") c = STATUS[s.statuses[s.status[i]]] || "#888";
  else if (mode === "conflict") c = s.conflict.has(i) ? CONFLICT : NO_CONFLICT;
  else if (mode === "diff") c = changeColour(s, s.change.get(i) || "unchanged");
  else c = PALETTE[s.kind[i] % PALETTE.length];
  return s.ghosts.has(i) ? faded(c) : c;
}

export function isLarge(nodes, edges) {
  return nodes > LARGE_NODES || edges > LARGE_EDGES;
}

// sigma's settings for a graph of this size (``buildGraph``'s large and edges): while the camera moves a large graph is
// drawn without edges and labels, labels show only for nodes drawn big enough (or forced:
// the deepest chain, groups), and edges are not hover targets (an extra picking pass
// over every edge per frame).
export function sigmaSettings({ large, edges }) {
  return { hideEdgesOnMove: large, hideLabelsOnMove: large,
    labelRenderedSizeThreshold: large ? 8 : 5, enableEdgeEvents: edges <= LARGE_EDGES };
}

// The camera ratio (1: the whole graph; smaller: zoomed in) at or below which the thin
// edges of a graph with ``count`` of them are drawn.
export function edgeZoom(count) {
  return count <= EDGE_BUDGET ? Infinity : Math.sqrt(EDGE_BUDGET / count);
}

// One-pixel lines (gl.LINES: two vertices an edge, no antialiasing band to fill) for the
// edges of large graphs, skipped while the camera is zoomed out past ``gate.ratio``.
export function thinEdgeProgram(gate) {
  return class ThinEdgeProgram extends EdgeLineProgram {
    render(params) {
      if (params.zoomRatio <= gate.ratio) super.render(params);
    }
  };
}

// Every attribute sigma reads, in one order: sigma copies each node's and edge's attributes
// and adds the missing ones, and objects all of one shape are copied much faster.
function nodeAttributes(x, y, size, color, type, label, forceLabel, i) {
  return { x, y, size, color, type, label, forceLabel, hidden: false, highlighted: false,
    zIndex: 0, i };
}

function edgeAttributes(size, color, type, path, rel, weight) {
  return { size, color, type, label: "", hidden: false, forceLabel: false,
    zIndex: path ? 1 : 0, rel, weight };
}

// The filter box as one predicate over unit indices, or null when it keeps everything.
export function unitFilter(s, { kind, status, depths, key }) {
  const k = kind ? s.kinds.indexOf(kind) : -2;
  const st = status ? s.statuses.indexOf(status) : -2;
  const m = depths.trim().match(/^(\d+)(?:\s*-\s*(\d+))?$/);
  const lo = m ? +m[1] : -Infinity;
  const hi = m ? +(m[2] ?? m[1]) : Infinity;
  const glob = key.trim();
  const re = glob ? globRegex(glob) : null;
  if (k === -2 && st === -2 && !m && !re) return null;
  return (i) => (k === -2 || s.kind[i] === k) && (st === -2 || s.status[i] === st)
    && s.depth[i] >= lo && s.depth[i] <= hi && (!re || re.test(s.keys[i]));
}

function globRegex(glob) {
  const body = glob.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp("^" + body + "$");
}

// The graph to draw for snapshot ``s`` with the view's options ``o``: colour, sizeBy,
// view, keep (unitFilter), expanded (group ids), aggregateAbove, subtree (lazy sizes) and
// split. With ``split`` a large graph is built in two steps: first its nodes, labelled
// only where the label is always shown (groups, the deepest chain), and the deepest
// chain's edges, which is what its first frame shows (the labels of small nodes and the
// thin edges only show zoomed in); ``complete()`` then adds the other labels and edges.
export function buildGraph(s, o) {
  let shown = null;
  if (o.keep) {
    shown = [];
    for (let i = 0; i < s.n; i++) if (o.keep(i)) shown.push(i);
  }
  const count = shown ? shown.length : s.n;
  const grouped = o.view === "groups" || (o.view === "auto" && count > o.aggregateAbove);
  const rep = new Array(s.n); // node key of each unit shown: its own, or its group's
  const groups = new Map();
  const groupIds = new Map();
  const units = [];
  const perLayer = new Map();
  for (let k = 0; k < count; k++) {
    const i = shown ? shown[k] : k;
    const depth = s.depth[i];
    if (grouped) {
      const slot = depth * s.kinds.length + s.kind[i];
      let gid = groupIds.get(slot);
      if (gid === undefined) {
        gid = `group:${depth}:${s.kinds[s.kind[i]]}`;
        groupIds.set(slot, gid);
      }
      if (!o.expanded.has(gid)) {
        rep[i] = gid;
        let g = groups.get(gid);
        if (!g) {
          g = { depth, kindName: s.kinds[s.kind[i]], count: 0, bytes: 0, failed: 0, xs: 0,
            color: PALETTE[s.kind[i] % PALETTE.length], changes: { added: 0, removed: 0, changed: 0 } };
          groups.set(gid, g);
        }
        g.count++; g.bytes += s.size[i] || 0; g.failed += s.statuses[s.status[i]] === "failed";
        g.xs += s.x[i];
        if (s.change.has(i)) g.changes[s.change.get(i)]++;
        continue;
      }
    }
    rep[i] = s.keys[i];
    units.push(i);
    perLayer.set(depth, (perLayer.get(depth) || 0) + 1);
  }
  const order = units.length + groups.size;
  const edges = grouped ? mergedEdges(s, rep) : null;
  let edgeCount = 0;
  if (edges) edgeCount = edges.size;
  else {
    for (let e = 0; e < s.src.length; e++) {
      const a = rep[s.src[e]], b = rep[s.dst[e]];
      edgeCount += a !== undefined && b !== undefined && a !== b;
    }
  }
  const large = isLarge(order, edgeCount);
  const split = o.split && large;
  const type = order > LARGE_NODES ? "point" : "circle";
  const graph = new Graph({ multi: false, type: "directed" });
  const nLayers = Object.keys(s.layer_sizes || { 0: 1 }).length;
  let widest = 0;
  for (const c of perLayer.values()) widest = Math.max(widest, c);
  const xSpan = Math.max(2, 1.6 * nLayers, 1.2 * Math.sqrt(widest));
  const base = s.n < 200 ? 6 : s.n < 5000 ? 4 : 2;
  const sizeOf = (i) => {
    if (o.sizeBy === "bytes") return 2 + 10 * Math.sqrt((s.size[i] || 0) / (s.max_size || 1));
    if (o.sizeBy === "subtree") return 2 + 3 * Math.log2(o.subtree()[i]);
    return s.path.has(i) ? base + 2 : base;
  };
  const label = (i) => shortLabel(s.keys[i], s.kinds[s.kind[i]]) + (s.ghosts.has(i) ? " (removed)" : "");
  const unlabelled = [];
  for (const i of units) {
    const forced = s.path.has(i);
    const attrs = nodeAttributes(s.x[i] * xSpan, -s.depth[i], sizeOf(i),
      colourOf(s, i, o.colour), type, split && !forced ? null : label(i), forced, i);
    if (attrs.label === null) unlabelled.push(attrs);
    graph.addNode(s.keys[i], attrs);
  }
  addGroups(graph, s, groups, o.colour, xSpan, type);
  const onPath = (e) => s.path.has(s.src[e]) && s.path.has(s.dst[e])
    && s.depth[s.dst[e]] === s.depth[s.src[e]] + 1 && rep[s.src[e]] === s.keys[s.src[e]]
    && rep[s.dst[e]] === s.keys[s.dst[e]];
  const ghostColour = faded(changeColour(s, "removed"));
  const colourOfEdge = (e, path) => (path ? PATH
    : s.ghosts.has(s.src[e]) || s.ghosts.has(s.dst[e]) ? ghostColour : "#bbb");
  const edgeType = (path) => (large && !path ? "thin" : "line");
  let thin = 0;
  // Adds the edges on the deepest chain (``path`` true) or the others.
  const addEdges = (path) => {
    if (edges) {
      let heaviest = 1;
      for (const x of edges.values()) heaviest = Math.max(heaviest, x.weight);
      for (const [id, x] of edges) {
        const p = onPath(x.e);
        if (p !== path) continue;
        thin += edgeType(p) === "thin";
        graph.addDirectedEdgeWithKey(id, x.a, x.b, edgeAttributes(
          p ? 2.5 : 0.5 + 5 * x.weight / heaviest, colourOfEdge(x.e, p), edgeType(p), p,
          s.relations[s.rel[x.e]] || "", x.weight));
      }
      return;
    }
    for (let e = 0; e < s.src.length; e++) {
      const a = rep[s.src[e]], b = rep[s.dst[e]];
      if (a === undefined || b === undefined || a === b) continue;
      const p = onPath(e);
      if (p !== path || graph.hasDirectedEdge(a, b)) continue;
      thin += edgeType(p) === "thin";
      graph.addDirectedEdge(a, b, edgeAttributes(p ? 2.5 : 0.5, colourOfEdge(e, p),
        edgeType(p), p, s.relations[s.rel[e]] || "", 1));
    }
  };
  addEdges(true);
  const complete = () => {
    for (const attrs of unlabelled) attrs.label = label(attrs.i);
    addEdges(false);
    return thin;
  };
  return { graph, grouped, large, shown: count, edges: edgeCount,
    complete: split ? complete : null, thin: split ? 0 : complete() };
}

// Edges between what is shown, those touching a group merged into one with a weight.
function mergedEdges(s, rep) {
  const edges = new Map();
  for (let e = 0; e < s.src.length; e++) {
    const a = rep[s.src[e]], b = rep[s.dst[e]];
    if (a === undefined || b === undefined || a === b) continue;
    const id = `${a}>${b}`;
    const old = edges.get(id);
    if (old) { old.weight++; continue; }
    edges.set(id, { a, b, e, weight: 1 });
  }
  return edges;
}

// The depth x kind groups, each layer ordered by the mean x of its units.
function addGroups(graph, s, groups, colour, xSpan, type) {
  let top = 1;
  for (const g of groups.values()) top = Math.max(top, g.count);
  const layers = new Map();
  for (const [gid, g] of groups) {
    if (!layers.has(g.depth)) layers.set(g.depth, []);
    layers.get(g.depth).push(gid);
  }
  for (const ids of layers.values()) {
    const mean = (gid) => groups.get(gid).xs / groups.get(gid).count;
    ids.sort((a, b) => mean(a) - mean(b));
    ids.forEach((gid, j) => {
      const g = groups.get(gid);
      let color = g.color;
      if (colour === "status" && g.failed) color = STATUS.failed;
      if (colour === "diff") {
        // A group takes the colour of its most frequent change, grey when none.
        const [most, n] = Object.entries(g.changes).sort((a, b) => b[1] - a[1])[0];
        color = changeColour(s, n ? most : "unchanged");
      }
      graph.addNode(gid, Object.assign(nodeAttributes(((j + 0.5) / ids.length) * xSpan,
        -g.depth, 4 + 14 * Math.sqrt(g.count / top), color, type,
        `${g.count.toLocaleString()} ${g.kindName}`, true, -1), { group: true,
        count: g.count, bytes: g.bytes, failed: g.failed, depth: g.depth,
        changes: g.changes, kindName: g.kindName }));
    });
  }
}
