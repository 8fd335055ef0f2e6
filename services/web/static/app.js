// Small progressive enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  // Diagrams: mermaid draws <pre class="mermaid"> blocks (vendored, no CDN).
  if (window.mermaid) { window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict" }); window.mermaid.run(); }

  document.querySelectorAll("[data-back]").forEach((a) => a.addEventListener("click", (e) => { e.preventDefault(); history.back(); }));

  // The methodology picker: a filter box over the registry's list (the list works without it).
  document.querySelectorAll("input[data-picker]").forEach((box) => {
    const select = document.getElementById(box.dataset.picker);
    const none = document.getElementById(box.dataset.picker + "-none");
    if (!select) return;
    box.hidden = false;
    box.addEventListener("input", () => {
      const words = box.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      const shown = [];
      select.querySelectorAll("option").forEach((o) => {
        if (!o.value) return;
        o.hidden = !words.every((w) => o.textContent.toLowerCase().includes(w));
        if (!o.hidden) shown.push(o);
      });
      select.querySelectorAll("optgroup").forEach((g) => { g.hidden = !g.querySelector("option:not([hidden])"); });
      if (none) none.hidden = shown.length > 0;
      if (shown.length === 1) select.value = shown[0].value; // one left: it is the one meant
    });
  });

  // Lists that become cards on a phone: each cell says which column it is (its header's words).
  document.querySelectorAll("table.cards").forEach((table) => {
    const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    table.querySelectorAll("tbody tr").forEach((tr) => {
      let column = 0;
      [...tr.children].forEach((cell) => {
        if (!cell.dataset.label && heads[column]) cell.dataset.label = heads[column];
        column += cell.colSpan || 1;
      });
    });
  });

  // Uploads with a progress bar: the same multipart POST, sent by XHR so progress can be shown.
  document.querySelectorAll("form[data-upload]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      const input = form.querySelector("input[type=file]");
      if (!input || !input.files.length) return; // let the server say what's missing
      event.preventDefault();
      const bar = form.querySelector("progress");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("HX-Request", "true");
      xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) { bar.hidden = false; bar.value = Math.round(100 * e.loaded / e.total); } });
      xhr.addEventListener("load", () => {
        if (xhr.status === 204) { window.location = window.location.pathname + "?ok=uploaded#documents"; return; }
        document.open(); document.write(xhr.responseText); document.close(); // the page with the reasons
      });
      xhr.send(new FormData(form));
    });
  });
});
