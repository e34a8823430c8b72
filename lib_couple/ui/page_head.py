"""The standalone page's <head>: Forge's page globals, then every `javascript/*.js` of the project.

Forge puts each extension's `javascript/*.js` into <head> as a classic script; the shims give
the same scripts the few Forge globals they use (`onUiLoaded`, `updateInput`, `gradioApp`,
`opts`), so one copy of the browser code runs in both hosts.
"""

from __future__ import annotations

from pathlib import Path

FORGE_SHIMS = """
(() => {
  if (typeof window.gradioApp === "function") return;  // Forge's own globals are there
  const callbacks = { loaded: [], update: [], after: [] };
  const run = (list, arg) => list.forEach((cb) => {
    try { cb(arg); } catch (error) { console.error("[Forge Couple]", error); }
  });
  window.opts = window.opts || {};
  window.gradioApp = () => {
    const app = document.querySelector("gradio-app");
    return (app && app.shadowRoot) || document;
  };
  window.onUiLoaded = (cb) => callbacks.loaded.push(cb);
  window.onUiUpdate = (cb) => callbacks.update.push(cb);
  window.onAfterUiUpdate = (cb) => callbacks.after.push(cb);
  window.updateInput = (target) => {
    const event = new Event("input", { bubbles: true });
    Object.defineProperty(event, "target", { value: target });
    target.dispatchEvent(event);
  };
  let loaded = false;
  let timer = null;
  new MutationObserver((mutations) => {
    if (!loaded && gradioApp().querySelector("#txt2img_prompt")) {
      loaded = true;
      run(callbacks.loaded);
    }
    run(callbacks.update, mutations);
    clearTimeout(timer);
    timer = setTimeout(() => run(callbacks.after), 200);
  }).observe(document, { childList: true, subtree: true });
})();
"""


def script_tag(source: str, name: str) -> str:
    """An inline <script>; its sourceURL names it in the browser's profiler and console."""
    escaped = source.replace("</script", "<\\/script")  # would end the tag early
    return f'<script type="text/javascript">\n{escaped}\n//# sourceURL=forge_couple/{name}\n</script>'


def javascript_files(directory: Path) -> list[Path]:
    """The scripts in the order Forge loads an extension's (sorted by name)."""
    return sorted(directory.glob("*.js")) if directory.is_dir() else []


def page_head(directory: Path) -> str:
    tags = [script_tag(FORGE_SHIMS, "forge_shims.js")]
    tags += [script_tag(path.read_text(encoding="utf-8"), path.name) for path in javascript_files(directory)]
    return "\n".join(tags)
