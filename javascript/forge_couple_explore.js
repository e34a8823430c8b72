// Forge Couple: the Latent Space Explorer's keys and drag. After a click on the pad picture or its
// buttons, ArrowUp/Down/Left/Right press the matching ↑ ↓ ← → button (#forge_couple_explore_*),
// so keys and buttons are one event each on the server. Keys typed in a text field are theirs.
// Dragging on the pad clicks it again each DRAG_PIXELS along the drag (one step toward the
// pointer each), so the point follows the pointer; the click that ends a drag is not a step.
(() => {
  const KEYS = { ArrowUp: "north", ArrowDown: "south", ArrowLeft: "west", ArrowRight: "east" };
  const AREAS = ["#forge_couple_explore_pad", "#forge_couple_explore_arrows"];
  const PAD_PICTURE = "#forge_couple_explore_pad img";
  const DRAG_PIXELS = 24;
  const root = () => (typeof window.gradioApp === "function" ? window.gradioApp() : document);
  let armed = false; // the explorer was the last thing clicked
  let drag = null; // { x, y, steps } while the pointer is down on the pad
  let stepping = false; // our own click is being dispatched
  let swallowClick = false; // the click that ends a drag

  const typing = (target) =>
    Boolean(target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)));

  const step = (x, y) => {
    const picture = root().querySelector(PAD_PICTURE); // each new frame of the pad is a new <img>
    if (!picture) return;
    stepping = true;
    try {
      picture.dispatchEvent(new MouseEvent("click", { bubbles: true, clientX: x, clientY: y }));
    } finally {
      stepping = false;
    }
  };

  document.addEventListener(
    "pointerdown",
    (event) => {
      const path = event.composedPath();
      armed = AREAS.some((selector) => {
        const area = root().querySelector(selector);
        return Boolean(area && path.includes(area));
      });
      const picture = root().querySelector(PAD_PICTURE);
      swallowClick = false;
      drag = event.button === 0 && picture && path.includes(picture)
        ? { x: event.clientX, y: event.clientY, steps: 0 }
        : null;
    },
    true,
  );

  document.addEventListener("pointermove", (event) => {
    if (!drag || !(event.buttons & 1)) return;
    if (Math.hypot(event.clientX - drag.x, event.clientY - drag.y) < DRAG_PIXELS) return;
    drag.x = event.clientX;
    drag.y = event.clientY;
    drag.steps += 1;
    step(event.clientX, event.clientY);
  });

  document.addEventListener(
    "pointerup",
    () => {
      swallowClick = Boolean(drag && drag.steps > 0);
      drag = null;
    },
    true,
  );

  document.addEventListener(
    "click",
    (event) => {
      if (stepping || !swallowClick) return;
      swallowClick = false;
      const pad = root().querySelector("#forge_couple_explore_pad");
      if (pad && event.composedPath().includes(pad)) event.stopPropagation(); // the drag moved there
    },
    true,
  );

  // the browser's own image drag would take the pointer away from the pad
  document.addEventListener("dragstart", (event) => {
    if (event.target instanceof Element && event.target.closest("#forge_couple_explore_pad")) {
      event.preventDefault();
    }
  });

  document.addEventListener("keydown", (event) => {
    const action = KEYS[event.key];
    if (!armed || !action || event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
    const button = root().querySelector(`#forge_couple_explore_${action}`);
    if (!button) return;
    event.preventDefault(); // the page would scroll
    button.click();
  });
})();
