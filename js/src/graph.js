// stagekit's interactive discovery graph: sigma.js (WebGL) over a graphology graph.
// One module serves the anywidget view in Jupyter (render({model, el})) and the offline
// HTML export (window.stagekitGraph.render with a model made of the embedded data).
// Python sends snapshots (columns of units and edges, positions already computed); this
// file only turns them into the graph on screen: aggregation per depth x kind, expanding
// a group on click, filters, colours, sizes, tooltips and the selection panel.
//
// First frame first: a snapshot is turned into a fresh graph in one pass (build.js) and
// handed to sigma once, with its final settings; the legend and the depth table of a
// large graph are drawn after that frame, and the parent/child index is built on the
// first click. A large graph's thin edges show once the view is zoomed in (build.js).
import Graph from "graphology";
import forceAtlas2 from "graphology-layout-forceatlas2";
import Sigma from "sigma";
import { NodePointProgram } from "sigma/rendering";
import { LARGE_NODES, buildGraph, edgeZoom, sigmaSettings, thinEdgeProgram, unitFilter }
  from "./build.js";
import { CSS, drawDepths, drawLegend, el, select, selectionPanel, tipText } from "./panels.js";
import { decodePayload, readSnapshot, subtreeSizes } from "./snapshot.js";

const mark = (name) => {
  if (typeof performance !== "undefined" && performance.mark) performance.mark(`stagekit:${name}`);
};

// ``fn`` once the next frame is on screen: a frame begins (rAF) only when the one before
// it was drawn, so this waits for the frame after next, then leaves it its own task.
const afterFrame = (fn) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(fn, 0)));

export function render({ model, el: root }) {
  mark("render");
  const state = { expanded: new Set(), selected: null, snap: null, subtree: null, draws: 0 };
  const gate = { ratio: Infinity }; // camera ratio at or below which thin edges are drawn
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

  let renderer = null;
  let graph = null;
  // For tests and the benchmark: the renderer and graph on screen now.
  root.__stagekit = { get renderer() { return renderer; }, get graph() { return graph; }, state };

  let summary = "";
  function showStatus(text = summary) {
    summary = text;
    const hidden = gate.ratio !== Infinity && renderer && renderer.getCamera().ratio > gate.ratio;
    root.dataset.edgesHidden = String(!!hidden);
    status.textContent = summary + (hidden ? " · zoom in to see the edges" : "");
  }

  function draw() {
    const s = state.snap;
    if (!s) return;
    const drawn = buildGraph(s, {
      colour: colour.value, sizeBy: sizeBy.value, view: view.value, expanded: state.expanded,
      aggregateAbove: model.get("aggregate_above") || 2000,
      keep: unitFilter(s, { kind: kindF.value, status: statusF.value, depths: depthF.value,
        key: keyF.value }),
      subtree: () => (state.subtree = state.subtree || subtreeSizes(s)),
      split: layout.value === "layered", // the force layout needs every edge
    });
    graph = drawn.graph;
    mark("graph");
    if (layout.value === "force" && graph.order > 1) {
      forceAtlas2.assign(graph, { iterations: graph.order > 5000 ? 20 : 100,
        settings: forceAtlas2.inferSettings(graph) });
    }
    gate.ratio = edgeZoom(drawn.thin);
    const summary = `${graph.order.toLocaleString()} nodes shown · `
      + `${drawn.shown.toLocaleString()} of ${s.n.toLocaleString()} units`
      + (s.total > s.n ? ` (of ${s.total.toLocaleString()} in the run)` : "")
      + (s.running ? " · running" : "");
    if (!renderer) start(drawn); else show(drawn);
    mark("sigma");
    showStatus(summary);
    root.dataset.units = String(s.n);
    root.dataset.mode = drawn.grouped ? "groups" : "units";
    root.dataset.ghosts = String(s.ghosts.size);
    root.dataset.color = colour.value;
    root.dataset.edges = String(drawn.edges);
    root.dataset.nodes = String(graph.order);
    const count = (state.draws += 1);
    delete root.dataset.ready;
    const rest = () => {
      if (state.draws !== count) return; // a newer draw took over
      if (drawn.complete) {
        // The other labels and edges, then one full refresh; sigma is detached meanwhile
        // (an attached renderer handles every added edge on its own).
        renderer.setGraph(new Graph());
        gate.ratio = edgeZoom(drawn.complete());
        renderer.setGraph(graph);
        showStatus(summary);
      }
      drawDepths(depths, s);
      drawLegend(legend, root, s, colour.value);
      root.dataset.ready = String(count);
      mark("ready");
    };
    // A large graph's first frame waits for none of it: the panels loop over every unit.
    if (drawn.complete || s.n > LARGE_NODES) afterFrame(rest); else rest();
  }

  // A new graph for the renderer: settings first if its size class changed (rare: a
  // growing graph crosses the threshold once), then one full refresh.
  function show(drawn) {
    const want = sigmaSettings(drawn);
    const changed = Object.fromEntries(Object.entries(want)
      .filter(([k, v]) => renderer.getSetting(k) !== v));
    if (Object.keys(changed).length) renderer.setSettings(changed);
    renderer.setGraph(graph);
  }

  function start(drawn) {
    renderer = new Sigma(graph, canvas, {
      ...sigmaSettings(drawn),
      renderEdgeLabels: false, zIndex: true, defaultEdgeType: "line", labelDensity: 0.5,
      labelGridCellSize: 200, allowInvalidContainer: true,
      nodeProgramClasses: { point: NodePointProgram },
      edgeProgramClasses: { thin: thinEdgeProgram(gate) },
      nodeReducer: (node, data) => (state.selected !== null && data.i === state.selected
        ? { ...data, highlighted: true } : data),
    });
    renderer.on("enterNode", ({ node, event }) => showTip(tipText(graph.getNodeAttributes(node),
      state.snap), event));
    renderer.on("leaveNode", () => { tip.style.display = "none"; });
    renderer.on("enterEdge", ({ edge, event }) => {
      const a = graph.getEdgeAttributes(edge);
      const [src, dst] = graph.extremities(edge);
      showTip(`${src} → ${dst}\n${a.weight > 1 ? `${a.weight} edges` : a.rel}`, event);
    });
    renderer.on("leaveEdge", () => { tip.style.display = "none"; });
    renderer.on("clickNode", ({ node }) => {
      const a = graph.getNodeAttributes(node);
      if (a.group) { state.expanded.add(node); draw(); return; }
      // Only the two nodes whose highlight changes are processed again.
      const before = state.selected === null ? null : state.snap.keys[state.selected];
      selectUnit(a.i);
      const nodes = [node, before].filter((k) => k !== null && graph.hasNode(k));
      renderer.refresh({ partialGraph: { nodes }, skipIndexation: true });
    });
    let hidden = null;
    renderer.getCamera().on("updated", () => {
      const now = gate.ratio !== Infinity && renderer.getCamera().ratio > gate.ratio;
      if (now !== hidden) { hidden = now; showStatus(); }
    });
    // In Jupyter the view may be drawn before it is attached (no size yet): follow its
    // size, refreshing only when it really changed (sigma's first frame is already drawn).
    if (typeof ResizeObserver !== "undefined") {
      state.resize = new ResizeObserver(() => {
        if (!renderer) return;
        const { width, height } = renderer.getDimensions();
        if (canvas.offsetWidth !== width || canvas.offsetHeight !== height) renderer.refresh();
      });
      state.resize.observe(canvas);
    }
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
    side.replaceChildren(...selectionPanel(s, i, selectUnit));
    root.dataset.selected = s.keys[i];
  }

  function current() {
    const p = model.get("payload");
    return p && p.meta ? decodePayload(p) : model.get("data");
  }

  function update() {
    const data = current();
    mark("decoded");
    state.snap = readSnapshot(data);
    state.subtree = null;
    mark("snapshot");
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
