// Forge Couple: <forge-couple-editor>, the region editor (preview with boxes, and a table).
// State: `mapping` (rows [x1, x2, y1, y2, weight]) and `selected`. Every change of the
// mapping goes out as one `fc-change` event with detail {mapping}; setting `mapping` from
// outside (the sync's reload) sends none. Edits of a prompt line go out as `fc-prompt` with
// detail {index, text} (text null: remove the line); the sync owns the prompt textarea.
(() => {
  const FC = (window.ForgeCouple = window.ForgeCouple || {});
  const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];

  // Colours come from gradio's theme variables (they reach into the shadow root through the host),
  // so the light and the dark theme of Forge and of the app both apply; fallbacks for a bare page.
  const STYLE = `
    :host { display: block; font: 13px/1.4 system-ui, sans-serif; color: var(--body-text-color, #222); }
    .layout { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; }
    .stage { flex: 1 1 300px; max-width: 460px; min-width: 0; }
    .side { flex: 1 1 380px; min-width: 0; }
    .hint { flex: 1 1 100%; font-size: 12px; color: var(--body-text-color-subdued, #666); }
    /* The frame's margin is room to draw: a drag that starts there draws, clamped to the image. */
    .frame { padding: 14px; border: 1px dashed var(--border-color-primary, #bbb);
      border-radius: var(--radius-sm, 4px); cursor: crosshair; touch-action: none; user-select: none; }
    .preview { position: relative; width: 100%; max-height: 480px; background: var(--background-fill-primary, #fff);
      border: 1px solid var(--border-color-accent, #888); box-sizing: border-box; outline: none; }
    .preview:focus-visible { box-shadow: 0 0 0 2px var(--color-accent, #4a90e2); }
    canvas, img.background { position: absolute; inset: 0; width: 100%; height: 100%; }
    img.background { opacity: .45; pointer-events: none; object-fit: fill; }
    img.background:not([src]) { display: none; }
    .box { position: absolute; box-sizing: border-box; border: 2px solid; cursor: move; }
    .box.selected { border-width: 3px; z-index: 2; }
    .box span { position: absolute; left: 2px; top: 0; font-weight: bold; color: #000;
      text-shadow: 0 0 2px #fff; pointer-events: none; }
    .handle { position: absolute; width: 10px; height: 10px; margin: -5px 0 0 -5px; background: #fff;
      border: 1px solid #000; box-sizing: border-box; display: none; }
    .box.selected .handle { display: block; }
    table { border-collapse: collapse; width: 100%; table-layout: fixed; font-size: 12px; }
    th, td { border: 1px solid var(--border-color-primary, #8884); padding: 1px 3px; text-align: left; overflow: hidden; }
    th { white-space: nowrap; font-weight: 600; background: var(--table-odd-background-fill, transparent); }
    td input { width: 100%; box-sizing: border-box; font: inherit; background: transparent; color: inherit;
      border: 0; padding: 1px; }
    tr.selected { outline: 2px solid var(--color-accent, #4a90e2); outline-offset: -2px; }
    td.prompt input { text-overflow: ellipsis; opacity: .9; }
    td.ops { white-space: nowrap; }
    button, input[type=file]::file-selector-button { font: inherit; cursor: pointer; padding: 1px 8px;
      background: var(--button-secondary-background-fill, #eee); color: var(--button-secondary-text-color, #222);
      border: var(--button-border-width, 1px) solid var(--button-secondary-border-color, #bbb);
      border-radius: var(--button-small-radius, var(--radius-sm, 4px)); }
    button:hover, input[type=file]::file-selector-button:hover {
      background: var(--button-secondary-background-fill-hover, #ddd);
      color: var(--button-secondary-text-color-hover, var(--button-secondary-text-color, #222)); }
    td.ops button { padding: 0 4px; margin-right: 2px; }
    .bar { margin-top: 6px; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
    .reason { color: var(--color-accent, #c60); min-height: 1.4em; }
    .coverage { opacity: .8; }
  `;

  class ForgeCoupleEditor extends HTMLElement {
    constructor() {
      super();
      this._mapping = FC.model.defaultMapping();
      this.selected = -1;
      this.prompts = [];
      this.history = new FC.model.History();
      this.stats = { moves: 0, totalMs: 0, maxMs: 0 };
      this._gesture = null;
      this.attachShadow({ mode: "open" }).innerHTML = `<style>${STYLE}</style>
        <div class="layout">
          <div class="hint" part="hint">Drag from the margin or empty space to draw · drag a box to move it ·
            its 8 handles resize · arrows nudge (Shift: ×10) · Delete removes · Ctrl+Z undoes, Ctrl+Y redoes</div>
          <div class="stage">
            <div class="frame"><div class="preview" tabindex="0" part="preview"><img class="background" alt=""><canvas></canvas></div></div>
            <div class="coverage"></div>
            <div class="bar"><label>Background <input type="file" accept="image/*" class="upload"></label>
              <button class="clear-background" title="remove the uploaded background">Clear</button></div>
          </div>
          <div class="side">
            <table><colgroup><col style="width:8px">${"<col style='width:3.6em'>".repeat(4)}<col style="width:4.4em">
              <col><col style="width:7.5em"></colgroup><thead><tr><th></th><th>x1</th><th>x2</th><th>y1</th><th>y2</th><th>weight</th>
              <th>prompt</th><th></th></tr></thead><tbody></tbody></table>
            <div class="bar"><button class="default">Default mapping</button>
              <button class="pull" hidden title="copy the txt2img editor's regions here">Pull from txt2img</button>
              <span class="reason" role="status"></span></div>
          </div>
        </div>`;
      const $ = (selector) => this.shadowRoot.querySelector(selector);
      this.preview = $(".preview");
      this.frame = $(".frame");
      this.canvas = $("canvas");
      this.tbody = $("tbody");
      this.reasonLine = $(".reason");
      this.coverageLine = $(".coverage");
      this.background = $("img.background");
      this.upload = $("input.upload");
      this.uploadUrl = null; // an object URL of the user's file; wins over the automatic one
      this.autoUrl = null; // e.g. the img2img input image
      this.boxes = [];
      this.setAspect(1, 1);
      // On the frame, so that a drag may start in its margin; points stay relative to the preview.
      this.frame.addEventListener("pointerdown", (e) => this._onPointerDown(e));
      this.frame.addEventListener("pointermove", (e) => this._onPointerMove(e));
      this.frame.addEventListener("pointerup", (e) => this._onPointerUp(e));
      this.frame.addEventListener("pointercancel", (e) => this._onPointerUp(e));
      this.preview.addEventListener("keydown", (e) => this._onKey(e));
      this.tbody.addEventListener("change", (e) => this._onCellChange(e));
      this.tbody.addEventListener("click", (e) => this._onTableClick(e));
      $(".default").addEventListener("click", () => this.change(FC.model.defaultMapping(), -1));
      this.pullButton = $(".pull");
      const pull = () => this.dispatchEvent(new CustomEvent("fc-pull", { bubbles: true }));
      this.pullButton.addEventListener("click", pull);
      this.upload.addEventListener("change", () => this._onUpload());
      $(".clear-background").addEventListener("click", () => this.clearBackground());
      this.render();
    }

    get mapping() {
      return FC.model.copy(this._mapping);
    }

    /** Loads a mapping from outside: undoable, and no fc-change event. */
    set mapping(rows) {
      if (FC.model.same(rows, this._mapping)) return;
      this.history.record(this._mapping);
      this._mapping = FC.model.copy(rows);
      if (this.selected >= rows.length) this.selected = rows.length - 1;
      this.render();
    }

    setPrompts(lines) {
      if (FC.model.same(lines, this.prompts)) return;
      this.prompts = lines.slice();
      this.render();
    }

    /** The editor of the img2img tab can pull the txt2img regions (the sync handles `fc-pull`). */
    showPull(visible) {
      this.pullButton.hidden = !visible;
    }

    /** A background from the page (the img2img input); shown unless the user uploaded one. */
    setAutoBackground(url) {
      this.autoUrl = url || null;
      this._showBackground();
    }

    clearBackground() {
      if (this.uploadUrl) URL.revokeObjectURL(this.uploadUrl);
      this.uploadUrl = null;
      this.upload.value = "";
      this._showBackground();
    }

    _onUpload() {
      const file = this.upload.files && this.upload.files[0];
      if (!file) return;
      if (!file.type.startsWith("image/")) {
        this.reasonLine.textContent = `Background: "${file.name}" is not an image`;
        return;
      }
      if (this.uploadUrl) URL.revokeObjectURL(this.uploadUrl);
      this.uploadUrl = URL.createObjectURL(file);
      this._showBackground();
    }

    _showBackground() {
      const url = this.uploadUrl || this.autoUrl;
      if (!url) this.background.removeAttribute("src");
      else if (this.background.getAttribute("src") !== url) this.background.src = url;
    }

    setAspect(width, height) {
      if (!(width > 0 && height > 0)) return;
      this.preview.style.aspectRatio = `${width} / ${height}`;
      this.canvas.width = Math.max(1, Math.round((200 * width) / Math.max(width, height)));
      this.canvas.height = Math.max(1, Math.round((200 * height) / Math.max(width, height)));
      this._drawCoverage();
    }

    /** The one way the user's edits change the state: record for undo, render, announce. */
    change(rows, selected = this.selected, reason = "") {
      this.history.record(this._mapping);
      this._apply(rows, selected, reason);
    }

    _apply(rows, selected, reason = "") {
      this._mapping = FC.model.copy(rows);
      this.selected = Math.min(selected, rows.length - 1);
      this.reasonLine.textContent = reason;
      this.render();
      this.dispatchEvent(new CustomEvent("fc-change", { detail: { mapping: this.mapping }, bubbles: true }));
    }

    undo() {
      const rows = this.history.undo(this._mapping);
      if (rows) this._apply(rows, this.selected);
    }

    redo() {
      const rows = this.history.redo(this._mapping);
      if (rows) this._apply(rows, this.selected);
    }

    // --- drawing: the DOM follows the state; nodes are reused, values set in place ---

    render() {
      const rows = this._mapping;
      while (this.boxes.length < rows.length) this.boxes.push(this._makeBox(this.boxes.length));
      while (this.boxes.length > rows.length) this.boxes.pop().remove();
      rows.forEach((row, i) => this._placeBox(i));
      this._renderTable();
      this._drawCoverage();
    }

    _makeBox(index) {
      const box = document.createElement("div");
      box.className = "box";
      box.dataset.index = index;
      box.style.borderColor = FC.model.colour(index);
      box.style.background = FC.model.colour(index, 0.18);
      box.innerHTML = `<span>${index + 1}</span>` + HANDLES.map((h) => `<div class="handle" data-handle="${h}"></div>`).join("");
      for (const handle of box.querySelectorAll(".handle")) {
        const h = handle.dataset.handle;
        handle.style.left = h.includes("w") ? "0%" : h.includes("e") ? "100%" : "50%";
        handle.style.top = h.includes("n") ? "0%" : h.includes("s") ? "100%" : "50%";
        handle.style.cursor = `${h}-resize`;
      }
      this.preview.appendChild(box);
      return box;
    }

    _placeBox(i) {
      const [x1, x2, y1, y2] = this._mapping[i];
      const style = this.boxes[i].style;
      style.left = `${x1 * 100}%`;
      style.top = `${y1 * 100}%`;
      style.width = `${(x2 - x1) * 100}%`;
      style.height = `${(y2 - y1) * 100}%`;
      this.boxes[i].classList.toggle("selected", i === this.selected);
    }

    /** Uncovered areas hatched: hatch everything, then clear what a region covers. */
    _drawCoverage() {
      if (!this.canvas) return;
      const { width, height } = this.canvas;
      const ctx = this.canvas.getContext("2d");
      ctx.clearRect(0, 0, width, height);
      ctx.strokeStyle = "rgba(200, 0, 0, .45)";
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      for (let d = -height; d < width; d += 8) {
        ctx.moveTo(d, height);
        ctx.lineTo(d + height, 0);
      }
      ctx.stroke();
      for (const [x1, x2, y1, y2] of this._mapping) {
        ctx.clearRect(x1 * width, y1 * height, (x2 - x1) * width, (y2 - y1) * height);
      }
      const lines = this.prompts.length;
      const count = this._mapping.length;
      this.coverageLine.textContent = lines && lines !== count
        ? `${count} regions, ${lines} prompt lines: they must match` : "Hatched: not covered by any region";
    }

    // --- pointer: select, move, resize, draw ---

    _point(event) {
      const rect = this.preview.getBoundingClientRect();
      return { x: (event.clientX - rect.left) / rect.width, y: (event.clientY - rect.top) / rect.height };
    }

    _onPointerDown(event) {
      if (event.button !== 0) return;
      this.preview.focus();
      const start = this._point(event);
      const handle = event.target.closest(".handle");
      const box = event.target.closest(".box");
      const index = box ? Number(box.dataset.index) : -1;
      const kind = handle ? "resize" : box ? "move" : "draw";
      this._gesture = { kind, start, index, handle: handle && handle.dataset.handle, before: this.mapping, moved: false };
      if (kind === "draw") {
        this._gesture.index = this._mapping.length;
      } else if (index !== this.selected) {
        this.selected = index;
        this.render();
      }
      this.frame.setPointerCapture(event.pointerId);
      event.preventDefault();
    }

    _onPointerMove(event) {
      const g = this._gesture;
      if (!g) return;
      const t0 = performance.now();
      const p = this._point(event);
      const rows = this._mapping;
      if (g.kind === "move") {
        rows[g.index] = FC.model.moveRow(g.before[g.index], p.x - g.start.x, p.y - g.start.y);
      } else if (g.kind === "resize") {
        rows[g.index] = FC.model.resizeRow(g.before[g.index], g.handle, p.x, p.y);
      } else {
        const row = FC.model.rowFromPoints(g.start, p);
        if (!row) return;
        if (rows.length === g.index) {
          rows.push(row);
          this.selected = g.index;
          this.render();
        }
        rows[g.index] = row;
      }
      g.moved = true;
      this._placeBox(g.index);
      this._renderTable();
      this._drawCoverage();
      this.dispatchEvent(new CustomEvent("fc-change", { detail: { mapping: this.mapping }, bubbles: true }));
      const ms = performance.now() - t0;
      this.stats.moves += 1;
      this.stats.totalMs += ms;
      this.stats.maxMs = Math.max(this.stats.maxMs, ms);
      if (this.stats.samples) this.stats.samples.push(ms); // a benchmark sets samples: []
    }

    _onPointerUp() {
      const g = this._gesture;
      this._gesture = null;
      if (!g || !g.moved) return;
      this.history.record(g.before);
      this._apply(this._mapping, this.selected);
    }

    // --- keyboard: arrows nudge, Delete removes, Ctrl+Z / Ctrl+Y ---

    _onKey(event) {
      const ctrl = event.ctrlKey || event.metaKey;
      const key = event.key.toLowerCase();
      if (ctrl && key === "z" && !event.shiftKey) this.undo();
      else if (ctrl && (key === "y" || (key === "z" && event.shiftKey))) this.redo();
      else if (!ctrl && this.selected >= 0 && (key === "delete" || key === "backspace")) {
        this._deleteRow(this.selected, event.shiftKey);
      }
      else if (!ctrl && this.selected >= 0 && key.startsWith("arrow")) {
        const step = event.shiftKey ? 0.1 : 0.01;
        const dx = key === "arrowleft" ? -step : key === "arrowright" ? step : 0;
        const dy = key === "arrowup" ? -step : key === "arrowdown" ? step : 0;
        const rows = this.mapping;
        rows[this.selected] = FC.model.moveRow(rows[this.selected], dx, dy);
        this.change(rows);
      } else return;
      event.preventDefault();
      event.stopPropagation();
    }

  }

  if (FC.editorTable) Object.assign(ForgeCoupleEditor.prototype, FC.editorTable); // forge_couple_table.js
  if (!customElements.get("forge-couple-editor")) customElements.define("forge-couple-editor", ForgeCoupleEditor);
  FC.Editor = ForgeCoupleEditor;
})();
