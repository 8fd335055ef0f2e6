// Small progressive enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  // Diagrams: mermaid draws <pre class="mermaid"> blocks (vendored, no CDN).
  if (window.mermaid) { window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict" }); window.mermaid.run(); }

  document.querySelectorAll("[data-back]").forEach((a) => a.addEventListener("click", (e) => { e.preventDefault(); history.back(); }));

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
