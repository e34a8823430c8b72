// Forge Couple: the Latent Space Explorer's arrow keys. After a click on the pad picture or its
// buttons, ArrowUp/Down/Left/Right press the matching ↑ ↓ ← → button (#forge_couple_explore_*),
// so keys and buttons are one event each on the server. Keys typed in a text field are theirs.
(() => {
  const KEYS = { ArrowUp: "north", ArrowDown: "south", ArrowLeft: "west", ArrowRight: "east" };
  const AREAS = ["#forge_couple_explore_pad", "#forge_couple_explore_arrows"];
  const root = () => (typeof window.gradioApp === "function" ? window.gradioApp() : document);
  let armed = false; // the explorer was the last thing clicked

  const typing = (target) =>
    Boolean(target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)));

  document.addEventListener(
    "pointerdown",
    (event) => {
      const path = event.composedPath();
      armed = AREAS.some((selector) => {
        const area = root().querySelector(selector);
        return Boolean(area && path.includes(area));
      });
    },
    true,
  );

  document.addEventListener("keydown", (event) => {
    const action = KEYS[event.key];
    if (!armed || !action || event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
    const button = root().querySelector(`#forge_couple_explore_${action}`);
    if (!button) return;
    event.preventDefault(); // the page would scroll
    button.click();
  });
})();
