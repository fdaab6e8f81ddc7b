"""A probe installed in a page before it loads: when the graph view's first frame was drawn.

The view sets ``data-nodes`` once it has built its graph; a frame begins only after the
one before it was drawn, so the start of the second frame after that is when the first is
on screen. Measured in the page, so what the view does afterwards (and a test's polling)
does not count. Shared by the browser tests and ``benchmarks/graph_render.py``.
"""

from __future__ import annotations

__all__ = ["FIRST_FRAME", "FIRST_FRAME_PROBE"]

#: For Playwright's ``page.add_init_script``: records the first frame's time.
FIRST_FRAME_PROBE = """(() => {
  window.__stagekitFirstFrame = null;
  const seen = new MutationObserver(() => {
    seen.disconnect();
    requestAnimationFrame(() => requestAnimationFrame(() => {
      window.__stagekitFirstFrame = performance.now();
    }));
  });
  seen.observe(document, {subtree: true, attributes: true, attributeFilter: ["data-nodes"]});
})()"""

#: For ``page.evaluate``: that time (``performance.now()``), or null before the frame.
FIRST_FRAME = "() => window.__stagekitFirstFrame"
