// The view's HTML around the canvas: controls, the legend, the units-per-depth table, the
// tooltip text and the selection panel (a unit's row, parents and children).
import { CONFLICT, NO_CONFLICT, PALETTE, PATH, STATUS, changeColour } from "./build.js";
import { bytes, links } from "./snapshot.js";

const CHANGES = ["added", "removed", "changed", "unchanged"];

export const CSS = `
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

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

export function select(name, options, value) {
  const s = el("select", { "data-control": name });
  for (const [v, label] of options) {
    const o = el("option", { value: v, text: label });
    if (v === value) o.selected = true;
    s.append(o);
  }
  return s;
}

// What each colour means, for colour mode ``mode``, with counts; also as root.dataset.legend.
export function drawLegend(legend, root, s, mode) {
  const entries = [];
  const perValue = (column, k) => {
    const counts = new Array(k).fill(0);
    for (let i = 0; i < s.n; i++) counts[column[i]]++;
    return counts;
  };
  if (mode === "diff" && s.diff) {
    const changed = s.diff.added.length + s.diff.removed.length + s.diff.changed.length;
    for (const c of CHANGES) {
      const n = c === "unchanged" ? s.n - changed : s.diff[c].length;
      entries.push([changeColour(s, c), `${c}${c === "removed" ? " (faded: ghosts)" : ""}`, n]);
    }
  } else if (mode === "status") {
    const counts = perValue(s.status, s.statuses.length);
    s.statuses.forEach((name, k) => entries.push([STATUS[name] || "#888", name, counts[k]]));
  } else if (mode === "conflict") {
    entries.push([CONFLICT, "group:artifact at several versions", s.conflict.size],
      [NO_CONFLICT, "no conflict", s.n - s.conflict.size]);
  } else {
    const counts = perValue(s.kind, s.kinds.length);
    s.kinds.forEach((name, k) => entries.push([PALETTE[k % PALETTE.length], name, counts[k]]));
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

// Units per depth, split by kind, as bars.
export function drawDepths(depths, s) {
  const K = s.kinds.length;
  const table = new Map();
  for (let i = 0; i < s.n; i++) {
    if (s.ghosts.has(i)) continue; // units of the older run only
    let row = table.get(s.depth[i]);
    if (!row) { row = new Array(K).fill(0); table.set(s.depth[i], row); }
    row[s.kind[i]]++;
  }
  const sum = (row) => row.reduce((a, b) => a + b, 0);
  const top = Math.max(1, ...[...table.values()].map(sum));
  const rows = [...table.keys()].sort((a, b) => a - b).map((d) => {
    const row = table.get(d);
    const segs = [];
    row.forEach((c, k) => {
      if (c) segs.push(el("span", { class: "sk-seg", title: `${s.kinds[k]}: ${c}`,
        style: `width:${Math.max(1, 240 * c / top)}px;background:${PALETTE[k % PALETTE.length]}` }));
    });
    return el("tr", {}, el("td", { text: `depth ${d}` }), el("td", { text: sum(row).toLocaleString() }),
      el("td", {}, ...segs));
  });
  depths.replaceChildren(el("table", {}, ...rows));
}

// The tooltip of a node (attributes ``a``) of snapshot ``s``.
export function tipText(a, s) {
  if (a.group) {
    const ch = s.diff ? `\n${Object.entries(a.changes).map(([c, n]) => `${n} ${c}`).join(", ")}` : "";
    return `${a.count.toLocaleString()} units of ${a.kindName} at depth ${a.depth}\n`
      + `${bytes(a.bytes)}, ${a.failed} failed${ch}\nclick to expand`;
  }
  const i = a.i;
  const lines = [s.keys[i], `kind: ${s.kinds[s.kind[i]]}`, `depth: ${s.depth[i]}`,
    `status: ${s.statuses[s.status[i]]}`];
  if (!Number.isNaN(s.size[i])) lines.push(`size: ${bytes(s.size[i])}`);
  if (s.errors.has(i)) lines.push(`error: ${s.errors.get(i)}`);
  if (s.conflict.has(i)) lines.push(`conflict: ${s.conflict.get(i)} at several versions`);
  if (s.path.has(i)) lines.push("on the deepest chain");
  if (s.ghosts.has(i)) lines.push("change: removed (only in the older run)");
  else if (s.change.has(i)) lines.push(`change: ${s.change.get(i)}`);
  return lines.join("\n");
}

// The selection panel for unit ``i``: its row, parents and children (each a link to select).
export function selectionPanel(s, i, choose) {
  const { parents, children } = links(s);
  const link = (e, end) => {
    const j = s[end][e];
    const li = el("li", { text: `${s.keys[j]} (${s.relations[s.rel[e]] || "?"})` });
    li.onclick = () => choose(j);
    return li;
  };
  const up = parents(i), down = children(i);
  const row = el("table", {}, ...[["key", s.keys[i]], ["kind", s.kinds[s.kind[i]]],
    ["depth", s.depth[i]], ["status", s.statuses[s.status[i]]],
    ["size", Number.isNaN(s.size[i]) ? "" : s.size[i].toLocaleString()],
    ["error", s.errors.get(i) || ""], ["conflict", s.conflict.get(i) || ""],
    ...(s.diff ? [["change", s.change.get(i) || "unchanged"]] : [])]
    .map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { text: String(v) }))));
  return [el("b", { text: "Selected" }), row,
    el("b", { text: `Parents (${up.length})` }),
    el("ul", {}, ...Array.from(up.subarray(0, 200), (e) => link(e, "src"))),
    el("b", { text: `Children (${down.length})` }),
    el("ul", {}, ...Array.from(down.subarray(0, 200), (e) => link(e, "dst")))];
}
