// Forge Couple: the table half of <forge-couple-editor> (rows, cell edits, row buttons, prompt cells).
// Installed on ForgeCouple.Editor's prototype; Forge loads javascript/*.js alphabetically, so
// whichever of this file and forge_couple_editor.js comes second does the install.
(() => {
  const FC = (window.ForgeCouple = window.ForgeCouple || {});

  FC.editorTable = {
    _renderTable() {
      const rows = this._mapping;
      while (this.tbody.rows.length < rows.length) {
        const tr = this.tbody.insertRow();
        tr.innerHTML = `<td class="swatch"></td>` +
          FC.model.COLUMNS.map((c) => `<td><input data-column="${c}" inputmode="decimal"></td>`).join("") +
          `<td class="prompt"><input data-prompt></td>` +
          `<td class="ops"><button data-op="above" title="insert above">+↑</button>` +
          `<button data-op="below" title="insert below">+↓</button>` +
          `<button data-op="delete" title="delete (Shift: the prompt line too)">✕</button></td>`;
      }
      while (this.tbody.rows.length > rows.length) this.tbody.deleteRow(-1);
      rows.forEach((row, i) => {
        const tr = this.tbody.rows[i];
        tr.dataset.index = i;
        tr.classList.toggle("selected", i === this.selected);
        tr.cells[0].style.background = FC.model.colour(i);
        tr.querySelectorAll("input[data-column]").forEach((input, c) => {
          const text = String(row[c]);
          if (input.value !== text && input !== this.shadowRoot.activeElement) input.value = text;
        });
        const prompt = this.prompts[i] ?? "";
        const input = tr.cells[6].firstChild;
        if (input.value !== prompt && input !== this.shadowRoot.activeElement) input.value = input.title = prompt;
      });
    },

    _onCellChange(event) {
      const input = event.target.closest("input");
      if (!input) return;
      const index = Number(input.closest("tr").dataset.index);
      if (input.hasAttribute("data-prompt")) {
        this._editPrompt(index, input.value);
        return;
      }
      const rows = this.mapping;
      const { row, reason } = FC.model.editCell(rows[index], input.dataset.column, input.value);
      rows[index] = row;
      input.value = String(row[FC.model.COLUMNS.indexOf(input.dataset.column)]);
      this.change(rows, index, reason ? `Row ${index + 1}: ${reason}` : "");
    },

    _onTableClick(event) {
      const tr = event.target.closest("tr");
      if (!tr) return;
      const index = Number(tr.dataset.index);
      const op = event.target.closest("button")?.dataset.op;
      const rows = this.mapping;
      if (op === "above") {
        rows.splice(index, 0, [0, 1, 0, 1, 1]);
        this.change(rows, index);
      } else if (op === "below") {
        rows.splice(index + 1, 0, [0.25, 0.75, 0.25, 0.75, 1]);
        this.change(rows, index + 1);
      } else if (op === "delete") {
        this._deleteRow(index, event.shiftKey);
      } else if (index !== this.selected) {
        this.selected = index;
        this.render();
      }
    },

    /** Shift held: the region's prompt line goes too (the sync rewrites the prompt). */
    _deleteRow(index, withPrompt = false) {
      const rows = this.mapping;
      rows.splice(index, 1);
      this.change(rows, Math.min(index, rows.length - 1));
      if (withPrompt && index < this.prompts.length) this._editPrompt(index, null);
    },

    /** A prompt line typed in the table (text) or removed (null); one line, no separator inside. */
    _editPrompt(index, text) {
      const line = text === null ? null : text.replace(/\s*\n\s*/g, " ").trim();
      const prompts = this.prompts.slice();
      if (line === null) prompts.splice(index, 1);
      else if (index <= prompts.length) prompts[index] = line; // the next row's line is appended
      else {
        const lines = prompts.length;
        this.reasonLine.textContent = `Row ${index + 1}: the prompt has ${lines} lines; fill the rows above first`;
        this._renderTable();
        return;
      }
      this.setPrompts(prompts);
      this.dispatchEvent(new CustomEvent("fc-prompt", { detail: { index, text: line }, bubbles: true }));
    },
  };

  if (FC.Editor) Object.assign(FC.Editor.prototype, FC.editorTable);
})();
