// The snapshot Python sends (stagekit/notebook/snapshot.py, live_snapshot.py, payload.py)
// as columns, and the lookups the view needs from it. Only what the first frame needs is
// built when a snapshot arrives; the parent/child index (selection panel, subtree sizes)
// is built the first time it is asked for.

const text = (view) => new TextDecoder().decode(view);
// A copy, so that the typed array starts aligned whatever the buffer's offset.
const typed = (Type, view) => new Type(view.buffer.slice(view.byteOffset,
  view.byteOffset + view.byteLength));

// The widget's payload (stagekit/notebook/payload.py): numeric columns as binary buffers.
export function decodePayload(p) {
  const d = JSON.parse(text(p.meta));
  d.keys = JSON.parse(text(p.keys));
  for (const name of ["kind", "status", "depth", "src", "dst", "rel"]) d[name] = typed(Int32Array, p[name]);
  d.size = typed(Float64Array, p.size); // NaN: no size
  if (p.x) d.x = typed(Float64Array, p.x);
  if (p.order) {
    const order = typed(Int32Array, p.order);
    d.order = {};
    let at = 0;
    for (const [depth, count] of d.order_layers) { d.order[depth] = order.subarray(at, at + count); at += count; }
  }
  return d;
}

// The units as columns, with the few lookups a frame and a tooltip need.
export function readSnapshot(d) {
  const n = d.keys.length;
  let x = d.x;
  if (!x) {
    // A live snapshot sends each layer's order; x is the place in the layer.
    x = new Float64Array(n);
    for (const ids of Object.values(d.order || {})) {
      const len = ids.length;
      for (let p = 0; p < len; p++) x[ids[p]] = (p + 0.5) / len;
    }
  }
  // Sizes as numbers, NaN for none (the page's JSON says null).
  const size = d.size instanceof Float64Array ? d.size
    : Float64Array.from(d.size, (v) => (v === null ? NaN : v));
  const conflict = new Map((d.conflict_nodes || []).map((i, j) => [i, d.conflict_ga[j]]));
  const errors = new Map((d.error_nodes || []).map((i, j) => [i, d.error_text[j]]));
  const change = new Map();
  const ghosts = new Set();
  if (d.diff) {
    for (const c of ["added", "removed", "changed"]) for (const i of d.diff[c]) change.set(i, c);
    for (const i of d.diff.ghosts) ghosts.add(i);
  }
  return { ...d, n, x, size, conflict, errors, change, ghosts, path: new Set(d.path || []),
    links: null };
}

// Edges by unit, in and out, as offsets into one array each (built once, on demand).
export function links(s) {
  if (s.links) return s.links;
  const m = s.src.length;
  const index = (ends) => {
    const start = new Int32Array(s.n + 1);
    for (let e = 0; e < m; e++) start[ends[e] + 1]++;
    for (let i = 0; i < s.n; i++) start[i + 1] += start[i];
    const fill = start.slice(0, s.n);
    const edges = new Int32Array(m);
    for (let e = 0; e < m; e++) edges[fill[ends[e]]++] = e;
    return (i) => edges.subarray(start[i], start[i + 1]);
  };
  s.links = { parents: index(s.dst), children: index(s.src) };
  return s.links;
}

export function subtreeSizes(s) {
  // Each unit counted under one parent one depth up (a spanning tree), deepest first.
  const { parents } = links(s);
  const size = new Float64Array(s.n).fill(1);
  const order = [...Array(s.n).keys()].sort((a, b) => s.depth[b] - s.depth[a]);
  for (const i of order) {
    const e = parents(i).find((e) => s.depth[s.src[e]] === s.depth[i] - 1);
    if (e !== undefined) size[s.src[e]] += size[i];
  }
  return size;
}

export function shortLabel(key, kind) {
  // As stagekit.notebook.tree_svg.short_label: no kind prefix, the end of long keys.
  const t = kind && key.startsWith(kind + ":") ? key.slice(kind.length + 1) : key;
  return t.length <= 28 ? t : "…" + t.slice(-27);
}

export function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i ? `${n.toFixed(1)} ${units[i]}` : `${n} B`;
}
