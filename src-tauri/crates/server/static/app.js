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
  // The desktop app opens /setup#setup_token=…: the fragment never reaches the
  // server or its logs; fill the field from it and drop it from the address bar.
  const params = new URLSearchParams(window.location.hash.slice(1));
  for (const input of document.querySelectorAll("input[data-fill-from-hash]")) {
    const value = params.get(input.dataset.fillFromHash);
    if (value && !input.value) input.value = value;
  }
  if (window.location.hash) history.replaceState(null, "", window.location.pathname + window.location.search);
  // Typing a user code: upper case and a dash after four letters.
  const code = document.getElementById("user_code");
  if (code) {
    code.addEventListener("input", () => {
      const raw = code.value.toUpperCase().replace(/[^A-Z]/g, "").slice(0, 8);
      code.value = raw.length > 4 ? raw.slice(0, 4) + "-" + raw.slice(4) : raw;
    });
  }
});
