// The staff pages' enhancements (case page, queue); each page works without them.
(() => {
  // Ask before an action that gives work away or sends it back (forms with data-confirm).
  document.addEventListener("submit", (event) => {
    const message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) { event.preventDefault(); event.stopImmediatePropagation(); }
  }, true);

  // A link to an action (#action-accept) opens its form and brings it into view.
  const reveal = (id) => {
    const target = id && document.getElementById(id);
    if (!target) return;
    if (target.tagName === "DETAILS") target.open = true;
    target.scrollIntoView({ block: "start" });
    const first = target.querySelector("input:not([type=hidden]), select, textarea, button");
    if (first) first.focus({ preventScroll: true });
  };
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[data-open]");
    if (link) { event.preventDefault(); history.replaceState(null, "", "#" + link.dataset.open); reveal(link.dataset.open); }
  });

  document.addEventListener("DOMContentLoaded", () => {
    if (location.hash.startsWith("#action-")) reveal(location.hash.slice(1));

    // The diagram is drawn when its fold is first opened (mermaid cannot measure a hidden one).
    document.querySelectorAll("details[data-mermaid]").forEach((fold) => {
      fold.addEventListener("toggle", () => {
        const pre = fold.querySelector("pre.mermaid-later");
        if (!fold.open || !pre || !window.mermaid) return;
        pre.classList.replace("mermaid-later", "mermaid");
        window.mermaid.run({ nodes: [pre] });
      });
    });

    // The queue's split view: on a wide screen a case opens beside the queue instead of replacing it.
    const pane = document.getElementById("case-pane");
    const wide = window.matchMedia("(min-width: 1400px)");
    if (pane) {
      document.querySelectorAll("a[data-pane]").forEach((link) => {
        link.addEventListener("click", (event) => {
          if (!wide.matches) return;
          event.preventDefault();
          pane.hidden = false;
          pane.querySelector("iframe").src = link.dataset.pane;
          document.querySelectorAll("tr.is-open-in-pane").forEach((r) => r.classList.remove("is-open-in-pane"));
          const row = link.closest("tr");
          if (row) row.classList.add("is-open-in-pane");
        });
      });
    }
  });
})();
