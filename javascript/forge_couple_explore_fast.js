// Forge Couple: the explorer's fast path. A move whose frame is already cached (an arrow, Undo,
// Redo, Return to start) shows it at once from a picture preloaded here, not after Gradio's
// round trip (200-300 ms on a small machine). The move's Gradio event still runs and writes
// every output, the same frame included. The server (lib_couple/ui/explore_fast.py) says which
// next moves have a frame. That holds only after the move the page made last, with nothing
// typed since, so any other click or input drops it until the next move lands.
(() => {
  const ROUTE = "/forge-couple/explore";
  const ARROWS = ["north", "south", "east", "west"];
  const OFFERED = new Set([...ARROWS, "undo", "redo", "start"]);
  const MARK = "#forge_couple_explore_fast [data-token]"; // each move writes its token and ticket
  const FRAME_BLOCK = "#forge_couple_explore_frame";
  const FRAME = `${FRAME_BLOCK} img`;
  const EXPLORER = "#forge_couple_explore";
  const PAD = "#forge_couple_explore_pad";
  // asked again while an arrow's frame is still being drawn ahead: soon, then less often (a
  // frame of a large model on a CPU takes a minute), for up to ten minutes after a move
  const FIRST_POLL_MS = 250;
  const LAST_POLL_MS = 2000;
  const POLL_FOR_MS = 600000;
  const KEPT = 48; // preloaded pictures
  const root = () => (typeof window.gradioApp === "function" ? window.gradioApp() : document);
  const server = () => {
    const at = window.gradio_config && window.gradio_config.root;
    return typeof at === "string" ? at.replace(/\/+$/, "") : "";
  };

  let landed = ""; // "token ticket" of the last move whose outputs arrived
  let clean = false; // nothing typed since the page's last move was sent
  let offer = null; // { key, frames: { action: <img> } } for `landed`
  let timer = null;
  let since = 0; // when the last move landed
  const pictures = new Map(); // url -> Promise of a decoded <img>, or null

  const drop = () => {
    offer = null;
    clearTimeout(timer);
    timer = null;
  };

  const preload = (url) => {
    if (!pictures.has(url)) {
      if (pictures.size >= KEPT) pictures.delete(pictures.keys().next().value);
      const picture = new Image();
      picture.src = server() + url;
      pictures.set(url, picture.decode().then(() => picture, () => null));
    }
    return pictures.get(url);
  };

  const ask = async (key, polls) => {
    timer = null;
    const [token, ticket] = key.split(" ");
    let answer = null;
    try {
      const response = await fetch(`${server()}${ROUTE}/ahead?token=${encodeURIComponent(token)}`);
      if (response.ok) answer = await response.json();
    } catch (error) {
      answer = null; // the server is busy or gone: the Gradio path still works
    }
    if (!answer || landed !== key || !clean || String(answer.move) !== ticket) return;
    const frames = {};
    for (const [action, url] of Object.entries(answer.frames || {})) {
      if (!OFFERED.has(action) || typeof url !== "string" || !url.startsWith(`${ROUTE}/frame?`)) continue;
      const picture = await preload(url);
      if (picture) frames[action] = picture;
    }
    if (landed !== key || !clean) return;
    offer = { key, frames };
    const mark = root().querySelector(MARK);
    if (mark && mark.dataset.move === ticket) {
      // what is preloaded, for a look and for the tests (whose move it is: the span may be reused)
      mark.dataset.offered = Object.keys(frames).sort().join(" ");
      mark.dataset.offeredMove = ticket;
    }
    const drawing = ARROWS.some((action) => !frames[action]);
    // the frame's block, not its picture: before the first frame there is no <img> yet
    const shown = Boolean(root().querySelector(FRAME_BLOCK)?.offsetParent);
    const wait = Math.min(LAST_POLL_MS, FIRST_POLL_MS * 1.5 ** polls);
    if (drawing && shown && !document.hidden && performance.now() - since < POLL_FOR_MS) {
      timer = setTimeout(() => ask(key, polls + 1), wait);
    }
  };

  const read = () => {
    const mark = root().querySelector(MARK);
    const key = mark ? `${mark.dataset.token} ${mark.dataset.move}` : "";
    if (!key || key === landed) return;
    landed = key;
    since = performance.now();
    drop();
    if (clean) ask(key, 0);
  };

  new MutationObserver((mutations) => {
    for (const mutation of mutations) {
      const target = mutation.target;
      if (target instanceof Element && target.closest("#forge_couple_explore_fast")) {
        read();
        return;
      }
    }
  }).observe(document.documentElement, { subtree: true, childList: true });

  const typed = () => {
    clean = false;
    drop();
  };
  document.addEventListener("input", typed, true);
  document.addEventListener("change", typed, true);

  document.addEventListener(
    "click",
    (event) => {
      const path = event.composedPath();
      const explorer = root().querySelector(EXPLORER);
      if (!explorer || !path.includes(explorer)) return;
      const button = path.find((node) => node instanceof Element && node.tagName === "BUTTON");
      const action = button && button.id.startsWith("forge_couple_explore_")
        ? button.id.slice("forge_couple_explore_".length)
        : null;
      const onPad = path.some((node) => node instanceof Element && node.matches(PAD));
      if (!button && !onPad) return; // a click that moves nothing (a label, a text field)
      const picture = offer && offer.key === landed && clean && action ? offer.frames[action] : null;
      const frame = root().querySelector(FRAME);
      if (picture && frame) frame.src = picture.src; // the rest of the move comes from Gradio
      clean = true; // the move sends every field as it is now
      drop();
    },
    true,
  );
})();
