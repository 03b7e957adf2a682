// Progressive enhancement only: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons next to a token shown once.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        button.textContent = "Copied";
        const status = document.getElementById("copy-status");
        if (status) status.textContent = "Copied to the clipboard.";
      } catch {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = "Press Ctrl+C";
      }
    });
  }
  // Times in the reader's own time zone; the UTC time stays in the title.
  for (const time of document.querySelectorAll("time[datetime]")) {
    const at = new Date(time.getAttribute("datetime"));
    if (Number.isNaN(at.getTime())) continue;
    if (!time.title) time.title = time.textContent;
    time.textContent = at.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }
  // Destructive forms ask first. Without this script the server answers
  // with a page that asks; here a dialog asks, and the form goes confirmed.
  const dialog = document.getElementById("confirm-dialog");
  if (dialog && typeof dialog.showModal === "function") {
    let pending = null;
    const ok = document.getElementById("confirm-dialog-ok");
    document.getElementById("confirm-dialog-cancel").addEventListener("click", () => dialog.close());
    ok.addEventListener("click", () => {
      const form = pending;
      dialog.close();
      if (!form) return;
      const confirm = document.createElement("input");
      confirm.type = "hidden";
      confirm.name = "confirm";
      confirm.value = "yes";
      form.appendChild(confirm);
      form.submit();
    });
    dialog.addEventListener("close", () => {
      if (pending && pending.querySelector("button[type=submit]")) pending.querySelector("button[type=submit]").focus();
      pending = null;
    });
    for (const form of document.querySelectorAll("form[data-confirm-title]")) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        pending = form;
        document.getElementById("confirm-dialog-title").textContent = form.dataset.confirmTitle;
        document.getElementById("confirm-dialog-body").textContent = form.dataset.confirmBody || "";
        ok.textContent = form.dataset.confirmButton || "Confirm";
        dialog.showModal();
      });
    }
  }
  // The desktop app opens /setup#setup_token=…: the fragment never reaches the
  // server or its logs; fill the field from it and drop it from the address bar.
  const params = new URLSearchParams(window.location.hash.slice(1));
  for (const input of document.querySelectorAll("input[data-fill-from-hash]")) {
    const value = params.get(input.dataset.fillFromHash);
    if (value && !input.value) input.value = value;
  }
  if (window.location.hash) history.replaceState(null, "", window.location.pathname + window.location.search);
  // The org's slug as its name is typed (the server makes the same one).
  for (const input of document.querySelectorAll("input[data-slug-preview]")) {
    const out = document.getElementById(input.dataset.slugPreview);
    const update = () => {
      const slug = input.value.trim().toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40).replace(/-+$/, "");
      out.textContent = slug.length >= 2 ? slug : "(chosen for you)";
    };
    input.addEventListener("input", update);
    update();
  }
  // Typing a user code: upper case and a dash after four letters.
  const code = document.getElementById("user_code");
  if (code) {
    code.addEventListener("input", () => {
      const raw = code.value.toUpperCase().replace(/[^A-Z]/g, "").slice(0, 8);
      code.value = raw.length > 4 ? raw.slice(0, 4) + "-" + raw.slice(4) : raw;
    });
  }
});
