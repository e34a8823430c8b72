// Forge Couple: the region editor's pure state functions (no DOM).
// A mapping is a list of rows [x1, x2, y1, y2, weight]; x and y are fractions of the image.
(() => {
  const FC = (window.ForgeCouple = window.ForgeCouple || {});
  const COLUMNS = ["x1", "x2", "y1", "y2", "weight"];
  const MIN_SIZE = 0.01;
  const HUES = [0, 30, 60, 120, 200, 240, 280, 320];

  const round = (value) => Math.round(value * 100) / 100;
  const clamp = (value, low, high) => Math.min(high, Math.max(low, value));

  function defaultMapping() {
    return [
      [0, 0.5, 0, 1, 1],
      [0.5, 1, 0, 1, 1],
    ];
  }

  function copy(mapping) {
    return mapping.map((row) => row.slice());
  }

  function same(a, b) {
    return JSON.stringify(a) === JSON.stringify(b);
  }

  /** Rows of five finite numbers, or null when the value is not such a list (e.g. Mask mode). */
  function parseRows(text) {
    let value;
    try {
      value = JSON.parse(text || "[]");
    } catch (error) {
      return null;
    }
    if (!Array.isArray(value)) return null;
    const ok = (row) =>
      Array.isArray(row) && row.length === 5 && row.every((cell) => typeof cell === "number" && isFinite(cell));
    return value.every(ok) ? value : null;
  }

  /** A new value for one cell: {row, reason}; reason is "" when the value was taken as typed. */
  function editCell(row, column, text) {
    const index = COLUMNS.indexOf(column);
    const next = row.slice();
    const number = Number(String(text).trim());
    if (String(text).trim() === "" || !isFinite(number)) {
      return { row: next, reason: `${column}: "${text}" is not a number; kept ${row[index]}` };
    }
    const reasons = [];
    const high = column === "weight" ? 5 : 1;
    let value = round(clamp(number, 0, high));
    if (value !== number) reasons.push(`${column} clamped to 0..${high}`);
    if (column !== "weight") {
      const lower = index % 2 === 0; // x1 or y1
      const other = next[lower ? index + 1 : index - 1];
      const bounded = lower ? Math.min(value, round(other - MIN_SIZE)) : Math.max(value, round(other + MIN_SIZE));
      if (bounded !== value) {
        reasons.push(lower ? `${column} must be below ${COLUMNS[index + 1]}` : `${column} must be above ${COLUMNS[index - 1]}`);
      }
      value = clamp(bounded, 0, 1);
    }
    next[index] = value;
    return { row: next, reason: reasons.join("; ") };
  }

  /** A row moved by (dx, dy), kept inside the image. */
  function moveRow(row, dx, dy) {
    const [x1, x2, y1, y2, weight] = row;
    const mx = clamp(dx, -x1, 1 - x2);
    const my = clamp(dy, -y1, 1 - y2);
    return [round(x1 + mx), round(x2 + mx), round(y1 + my), round(y2 + my), weight];
  }

  /** A row with the edges named by `handle` ("n", "se", ...) moved to the point (x, y). */
  function resizeRow(row, handle, x, y) {
    let [x1, x2, y1, y2, weight] = row;
    x = round(clamp(x, 0, 1));
    y = round(clamp(y, 0, 1));
    if (handle.includes("w")) x1 = Math.min(x, round(x2 - MIN_SIZE));
    if (handle.includes("e")) x2 = Math.max(x, round(x1 + MIN_SIZE));
    if (handle.includes("n")) y1 = Math.min(y, round(y2 - MIN_SIZE));
    if (handle.includes("s")) y2 = Math.max(y, round(y1 + MIN_SIZE));
    return [x1, x2, y1, y2, weight];
  }

  /** The row spanned by two corner points, or null when it is too small to be meant. */
  function rowFromPoints(a, b) {
    const x1 = round(clamp(Math.min(a.x, b.x), 0, 1));
    const x2 = round(clamp(Math.max(a.x, b.x), 0, 1));
    const y1 = round(clamp(Math.min(a.y, b.y), 0, 1));
    const y2 = round(clamp(Math.max(a.y, b.y), 0, 1));
    return x2 - x1 >= 0.02 && y2 - y1 >= 0.02 ? [x1, x2, y1, y2, 1] : null;
  }

  /** The separator as typed (the peer's escapes: `\\n` newline, `\\t` space; blank: newline), as Python's. */
  function resolveSeparator(typed) {
    const resolved = String(typed || "").replace(/\\n/g, "\n").replace(/\\t/g, " ");
    return resolved.trim() ? resolved : "\n";
  }

  /** The region lines of a prompt as lib_couple.prompts.split_lines: stripped, trailing empty ones dropped. */
  function splitLines(prompt, separator) {
    const lines = prompt.split(separator).map((line) => line.trim());
    while (lines.length && !lines[lines.length - 1]) lines.pop();
    return lines;
  }

  /**
   * The prompt with its index-th region line (as splitLines counts) replaced by text, or removed
   * when text is null; the index one past the last line appends one. Other lines keep their text.
   */
  function rewriteLine(prompt, separator, index, text) {
    const chunks = prompt.split(separator);
    const count = splitLines(prompt, separator).length;
    if (index < count) {
      if (text === null) chunks.splice(index, 1);
      else chunks[index] = text;
    } else if (index === count && text !== null) {
      chunks.length = count;
      chunks.push(text);
    }
    return chunks.join(separator);
  }

  function colour(index, alpha = 1) {
    return `hsla(${HUES[index % HUES.length]}, 80%, 55%, ${alpha})`;
  }

  /** A short hash of a text (FNV-1a, 32 bits), to tell synced states apart cheaply. */
  function hash(text) {
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return (h >>> 0).toString(16);
  }

  /** Undo/redo of whole mappings. */
  class History {
    constructor(limit = 100) {
      this.limit = limit;
      this.past = [];
      this.future = [];
    }
    record(mapping) {
      this.past.push(copy(mapping));
      if (this.past.length > this.limit) this.past.shift();
      this.future = [];
    }
    undo(current) {
      if (!this.past.length) return null;
      this.future.push(copy(current));
      return this.past.pop();
    }
    redo(current) {
      if (!this.future.length) return null;
      this.past.push(copy(current));
      return this.future.pop();
    }
  }

  FC.model = {
    COLUMNS, defaultMapping, copy, same, parseRows, editCell, moveRow, resizeRow, rowFromPoints,
    colour, hash, round, clamp, History, resolveSeparator, splitLines, rewriteLine,
  };
})();
