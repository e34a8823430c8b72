// Forge Couple: puts one <forge-couple-editor> in each tab's Advanced panel and keeps the
// hidden mapping textbox (`.fc_mapping_json textarea`, the script argument) equal to it.
//   editor -> textarea: autoSync (debounced, opts.fc_sync_delay_ms, 100 ms by default) on every
//     fc-change; forceSync (at once) on page load, on Generate (click, capture phase), Ctrl+Enter,
//     form submit and when the tab becomes visible. A hash of the last written text skips
//     redundant input events.
//   textarea -> editor: a value written from outside (infotext paste, Send to img2img) reloads
//     the editor; an echo of a state this tab wrote earlier is overwritten with the current one.
(() => {
  const FC = (window.ForgeCouple = window.ForgeCouple || {});
  const TABS = { t2i: "txt2img", i2i: "img2img" };
  const ECHOES = 64; // how many recently written states are recognised as echoes
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
      this.sent = [];
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
      this.sent.push(digest);
      if (this.sent.length > ECHOES) this.sent.shift();
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
      if (this.sent.includes(FC.model.hash(text)) && !this.maskMode()) {
        this.forceSync(); // a server echo of an older state of ours: ours is newer
        return;
      }
      clearTimeout(this.timer);
      this.editor.mapping = rows;
      this.lastHash = FC.model.hash(JSON.stringify(rows));
    }
  }

  const syncs = {};

  function readPrompts(tab, accordion, editor) {
    const prompt = gradioApp().querySelector(`#${TABS[tab]}_prompt textarea`);
    const separatorInput = accordion.querySelector(".fc_separator textarea, .fc_separator input");
    if (!prompt) return;
    const separator = (separatorInput && separatorInput.value.replace(/\\n/g, "\n")) || "\n";
    editor.setPrompts(prompt.value.split(separator).map((line) => line.trim()).filter((line) => line));
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
    for (const child of panel.children) child.style.display = "none";
    panel.prepend(editor);
    const sync = (syncs[tab] = new TabSync(tab, accordion, textarea, editor));
    editor.sync = sync;

    const prompt = app.querySelector(`#${TABS[tab]}_prompt textarea`);
    if (prompt) prompt.addEventListener("input", () => readPrompts(tab, accordion, editor));
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

  function setup() {
    for (const tab of Object.keys(TABS)) mount(tab);
    // Capture phase: runs before Gradio's own click handler reads the inputs.
    document.addEventListener(
      "click",
      (event) => {
        const target = event.target instanceof Element ? event.target : null;
        if (target && target.closest(`#txt2img_generate, #img2img_generate`)) forceAll();
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
      window.onUiUpdate(() => {
        for (const tab of Object.keys(TABS)) mount(tab);
      });
    }
    if (typeof window.onUiTabChange === "function") window.onUiTabChange(forceAll);
  }

  FC.sync = { setup, forceAll, syncs, syncDelay };
  if (typeof window.onUiLoaded === "function") window.onUiLoaded(setup);
})();
