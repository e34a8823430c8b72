// Forge Couple: puts one <forge-couple-editor> in each tab's Advanced panel and keeps the
// hidden mapping textbox (`.fc_mapping_json textarea`, the script argument) equal to it.
//   editor -> textarea: autoSync (debounced, opts.fc_sync_delay_ms, 100 ms by default) on every
//     fc-change; forceSync (at once) on page load, on any button's click (capture phase:
//     Generate, Save and Load preset, Send to), Ctrl+Enter, form submit and when the tab
//     becomes visible. A hash of the last written text skips
//     redundant input events.
//   textarea -> editor: a value written from outside (infotext paste, Send to img2img, a loaded
//     preset) reloads the editor. Nothing writes old states back: while the editor is mounted
//     the fallback table's events write nothing (FC.editorActive gates them in the page).
//   prompt: the editor shows the tab's prompt split by the couple separator; a line edited or
//     removed in its table (fc-prompt) is written back into the prompt textarea.
//   img2img: "Pull from txt2img" (fc-pull) copies the txt2img editor's regions; the img2img input
//     image (#img2img_image img) is the editor's background.
(() => {
  const FC = (window.ForgeCouple = window.ForgeCouple || {});
  const TABS = { t2i: "txt2img", i2i: "img2img" };
  const nativeValue = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value");

  const fire = (target) =>
    typeof window.updateInput === "function"
      ? window.updateInput(target)
      : target.dispatchEvent(new Event("input", { bubbles: true }));

  const syncDelay = () => {
    const value = Number(window.opts && window.opts.fc_sync_delay_ms);
    return Number.isFinite(value) && value >= 0 ? value : 100;
  };

  class TabSync {
    constructor(tab, accordion, textarea, editor) {
      this.tab = tab;
      this.accordion = accordion;
      this.textarea = textarea;
      this.editor = editor;
      this.lastHash = null;
      this.timer = null;
      this.writing = false;
      this._watchTextarea();
      editor.addEventListener("fc-change", () => this.autoSync());
    }

    /** Mask mode owns the textarea (a list of masks): the editor must not write it then. */
    maskMode() {
      const mask = this.accordion.querySelector('input[type="radio"][value="Mask"]');
      return Boolean(mask && mask.checked);
    }

    autoSync() {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.forceSync(), syncDelay());
    }

    forceSync() {
      clearTimeout(this.timer);
      this.timer = null;
      if (this.maskMode()) return false;
      const text = JSON.stringify(this.editor.mapping);
      const digest = FC.model.hash(text);
      if (digest === this.lastHash && this.textarea.value === text) return false;
      this.writing = true;
      try {
        this.textarea.value = text;
      } finally {
        this.writing = false;
      }
      this.lastHash = digest;
      fire(this.textarea);
      return true;
    }

    /** Sees every write to the textarea's value, including Gradio's own (which fire no event). */
    _watchTextarea() {
      const sync = this;
      Object.defineProperty(this.textarea, "value", {
        configurable: true,
        get() {
          return nativeValue.get.call(this);
        },
        set(text) {
          nativeValue.set.call(this, text);
          if (!sync.writing) queueMicrotask(() => sync.onExternal(String(text)));
        },
      });
      this.textarea.addEventListener("input", () => {
        if (!this.writing) this.onExternal(this.textarea.value);
      });
    }

    onExternal(text) {
      if (this.textarea.value !== text) return; // overtaken by a later write
      const rows = FC.model.parseRows(text);
      if (!rows) return; // masks or invalid text: not the editor's
      if (FC.model.same(rows, this.editor.mapping)) {
        this.lastHash = FC.model.hash(text);
        return;
      }
      clearTimeout(this.timer);
      this.editor.mapping = rows;
      this.lastHash = FC.model.hash(JSON.stringify(rows));
    }
  }

  const syncs = {};

  function separatorOf(accordion) {
    const input = accordion.querySelector(".fc_separator textarea, .fc_separator input");
    return FC.model.resolveSeparator(input && input.value);
  }

  /** The table's prompt column: line i is region i's, counted as the backend counts them. */
  function readPrompts(tab, accordion, editor) {
    const prompt = gradioApp().querySelector(`#${TABS[tab]}_prompt textarea`);
    if (prompt) editor.setPrompts(FC.model.splitLines(prompt.value, separatorOf(accordion)));
  }

  function writePromptLine(tab, accordion, editor, index, text) {
    const prompt = gradioApp().querySelector(`#${TABS[tab]}_prompt textarea`);
    if (!prompt) return;
    const value = FC.model.rewriteLine(prompt.value, separatorOf(accordion), index, text);
    if (value !== prompt.value) {
      prompt.value = value;
      fire(prompt);
    }
    readPrompts(tab, accordion, editor);
  }

  /** The img2img input image as the editor's background (Forge's canvas and Gradio's Image alike). */
  function watchInputImage(editor) {
    const container = gradioApp().querySelector("#img2img_image");
    if (!container) return false;
    const show = () => {
      const img = [...container.querySelectorAll("img")].find((node) => node.getAttribute("src"));
      editor.setAutoBackground(img ? img.src : null);
    };
    new MutationObserver(show).observe(container, {
      subtree: true, childList: true, attributes: true, attributeFilter: ["src"],
    });
    show();
    return true;
  }

  function readAspect(tab, editor) {
    const value = (id) => Number(gradioApp().querySelector(`#${TABS[tab]}_${id} input[type="number"]`)?.value);
    editor.setAspect(value("width"), value("height"));
  }

  function mount(tab) {
    const app = gradioApp();
    const accordion = app.querySelector(`#forge_couple_${tab}`);
    const panel = accordion && accordion.querySelector(".fc_advanced");
    const textarea = accordion && accordion.querySelector(".fc_mapping_json textarea");
    if (!panel || !textarea || syncs[tab]) return;
    const editor = document.createElement("forge-couple-editor");
    editor.dataset.tab = tab;
    const rows = FC.model.parseRows(textarea.value);
    if (rows) editor.mapping = rows;
    editor.history = new FC.model.History();
    // The Dataframe stays as the fallback without JavaScript; hidden while the editor is active.
    // The presets (`.fc_presets`) serve the editor too, so they stay.
    for (const child of panel.children) {
      if (!child.classList.contains("fc_presets")) child.style.display = "none";
    }
    panel.prepend(editor);
    const sync = (syncs[tab] = new TabSync(tab, accordion, textarea, editor));
    // The fallback table's events read this (region_panels.TABLE_GATE_JS): the editor owns the mapping.
    FC.editorActive = true;
    editor.sync = sync;

    const prompt = app.querySelector(`#${TABS[tab]}_prompt textarea`);
    if (prompt) prompt.addEventListener("input", () => readPrompts(tab, accordion, editor));
    accordion.querySelector(".fc_separator")?.addEventListener("input", () => readPrompts(tab, accordion, editor));
    editor.addEventListener("fc-prompt", (event) => {
      writePromptLine(tab, accordion, editor, event.detail.index, event.detail.text);
    });
    if (tab === "i2i") {
      editor.showPull(true);
      editor.addEventListener("fc-pull", () => {
        const source = syncs.t2i && syncs.t2i.editor;
        if (!source) return;
        editor.change(source.mapping, -1, "Pulled the txt2img regions (Ctrl+Z undoes)");
        sync.forceSync();
      });
      sync.watchingImage = watchInputImage(editor);
    }
    for (const id of ["width", "height"]) {
      const slider = app.querySelector(`#${TABS[tab]}_${id}`);
      for (const type of ["input", "change"]) slider?.addEventListener(type, () => readAspect(tab, editor));
    }
    readPrompts(tab, accordion, editor);
    readAspect(tab, editor);
    sync.forceSync(); // the state is pushed when the page loads
  }

  function forceAll() {
    for (const sync of Object.values(syncs)) sync.forceSync();
  }

  function mountAll() {
    for (const tab of Object.keys(TABS)) mount(tab);
    const i2i = syncs.i2i;
    if (i2i && !i2i.watchingImage) i2i.watchingImage = watchInputImage(i2i.editor); // built later
  }

  function setup() {
    mountAll();
    // Capture phase: runs before Gradio's own click handler reads the inputs. Every button,
    // not only Generate: Save preset reads the mapping, and Load preset must find the textbox
    // holding the editor's rows or Gradio skips writing back text it thinks is there.
    document.addEventListener(
      "click",
      (event) => {
        const target = event.target instanceof Element ? event.target : null;
        if (target && target.closest("button, #txt2img_generate, #img2img_generate")) forceAll();
      },
      true,
    );
    document.addEventListener(
      "keydown",
      (event) => {
        if ((event.ctrlKey || event.metaKey) && event.key === "Enter") forceAll();
      },
      true,
    );
    document.addEventListener("submit", forceAll, true);
    document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && forceAll());
    // Forge's main tabs: a tab becoming visible pushes its state; new panels get an editor.
    if (typeof window.onUiUpdate === "function") {
      window.onUiUpdate(mountAll);
    }
    if (typeof window.onUiTabChange === "function") window.onUiTabChange(forceAll);
  }

  FC.sync = { setup, forceAll, syncs, syncDelay };
  if (typeof window.onUiLoaded === "function") window.onUiLoaded(setup);
})();
