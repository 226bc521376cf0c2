// Small progressive enhancements shared by every page (no inline scripts: the CSP forbids them).
document.addEventListener("DOMContentLoaded", () => {
  const texts = document.body.dataset;

  // A table that scrolls sideways inside its box must be reachable by keyboard (WCAG 2.1.1),
  // and must say that it scrolls: the box casts edge shadows (CSS), and gets a hint line.
  const boxes = document.querySelectorAll(".table-wrap");
  boxes.forEach((box) => {
    if (!box.hasAttribute("tabindex")) box.setAttribute("tabindex", "0");
    if (!box.hasAttribute("role")) box.setAttribute("role", "region");
    if (!box.hasAttribute("aria-label")) {
      const heading = box.previousElementSibling;
      const caption = box.querySelector("caption");
      const text = (caption || heading || {}).textContent || "";
      box.setAttribute("aria-label", text.trim() || document.title);
    }
    if (texts.scrollHint && !(box.nextElementSibling && box.nextElementSibling.classList.contains("scroll-hint"))) {
      const hint = document.createElement("p");
      hint.className = "scroll-hint";
      hint.setAttribute("aria-hidden", "true");
      hint.textContent = texts.scrollHint;
      box.after(hint);
    }
  });
  const measure = () => boxes.forEach((box) => {
    box.classList.toggle("is-scrollable", box.scrollWidth > box.clientWidth + 1);
  });
  measure();
  window.addEventListener("resize", measure);

  // Tables stacked as cards on phones: each cell is labelled with its column's header.
  document.querySelectorAll("table.stack-phone").forEach((table) => {
    const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    table.querySelectorAll("tbody tr, tfoot tr").forEach((row) => {
      let col = 0;
      [...row.children].forEach((cell) => {
        const label = heads[col];
        if (label && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", label);
        col += cell.colSpan || 1;
      });
    });
  });

  // Copy buttons (e.g. beside a shortened hash): hidden until this script can make them work.
  document.querySelectorAll("button.copy[data-copy]").forEach((button) => {
    button.hidden = false;
    const label = button.querySelector("span");
    const original = label ? label.textContent : "";
    button.addEventListener("click", async () => {
      const value = button.dataset.copy;
      let done = false;
      try {
        await navigator.clipboard.writeText(value);
        done = true;
      } catch (error) {
        const area = document.createElement("textarea");
        area.value = value;
        area.setAttribute("readonly", "");
        area.style.position = "absolute";
        area.style.left = "-9999px";
        document.body.append(area);
        area.select();
        try { done = document.execCommand("copy"); } catch (ignored) { done = false; }
        area.remove();
      }
      if (label) label.textContent = done ? (texts.copied || original) : (texts.copyFailed || original);
      button.classList.toggle("copied", done);
      setTimeout(() => {
        if (label) label.textContent = original;
        button.classList.remove("copied");
      }, 2000);
    });
  });
});
