// Small progressive enhancements shared by every page (no inline scripts: the CSP forbids them).
document.addEventListener("DOMContentLoaded", () => {
  // A table that scrolls sideways inside its box must be reachable by keyboard (WCAG 2.1.1).
  document.querySelectorAll(".table-wrap").forEach((box) => {
    if (!box.hasAttribute("tabindex")) box.setAttribute("tabindex", "0");
    if (!box.hasAttribute("role")) box.setAttribute("role", "region");
    if (!box.hasAttribute("aria-label")) {
      const heading = box.previousElementSibling;
      const caption = box.querySelector("caption");
      const text = (caption || heading || {}).textContent || "";
      box.setAttribute("aria-label", text.trim() || document.title);
    }
  });
});
