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
  // Passkeys: the WebAuthn ceremonies (begin on the server, the browser's
  // authenticator, finish on the server). The buttons show only where the
  // browser has WebAuthn.
  const b64u = (buffer) =>
    btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const unb64u = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(base64 + "===".slice((base64.length + 3) % 4)), (c) => c.charCodeAt(0));
  };
  const send = async (url, fields) => {
    const response = await fetch(url, {
      method: "POST",
      body: new URLSearchParams(fields),
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    const body = await response.json().catch(() => ({ error: "The server's answer could not be read." }));
    if (!response.ok) throw new Error(body.error || "Something went wrong. Try again.");
    return body;
  };
  const say = (button, text) => {
    const out = document.getElementById(button.dataset.passkeyStatus);
    if (!out) return;
    out.textContent = text;
    out.hidden = false;
  };
  // Where the server says to go; a page again when only its #part differs.
  const go = (to) => {
    const url = new URL(to, window.location.href);
    if (url.pathname === window.location.pathname && url.search === window.location.search) {
      window.location.hash = url.hash;
      window.location.reload();
    } else {
      window.location.assign(url.href);
    }
  };
  const cancelled = (err) =>
    err && err.name === "NotAllowedError" ? "The passkey was not used (cancelled or timed out)." : err.message || String(err);
  const webauthn = typeof window.PublicKeyCredential === "function" && navigator.credentials;
  for (const button of document.querySelectorAll("button[data-passkey-register]")) {
    if (!webauthn) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      const form = button.form;
      const csrf = form.elements.csrf_token.value;
      try {
        const begun = await send("/account/passkeys/begin", { csrf_token: csrf, name: form.elements.name.value });
        const options = begun.options.publicKey;
        options.challenge = unb64u(options.challenge);
        options.user.id = unb64u(options.user.id);
        for (const credential of options.excludeCredentials || []) credential.id = unb64u(credential.id);
        const made = await navigator.credentials.create({ publicKey: options });
        const credential = JSON.stringify({
          id: made.id,
          rawId: b64u(made.rawId),
          type: made.type,
          response: {
            attestationObject: b64u(made.response.attestationObject),
            clientDataJSON: b64u(made.response.clientDataJSON),
            transports: typeof made.response.getTransports === "function" ? made.response.getTransports() : undefined,
          },
          extensions: {},
        });
        const done = await send("/account/passkeys/finish", { csrf_token: csrf, ceremony: begun.ceremony, credential });
        go(done.redirect);
      } catch (err) {
        say(button, cancelled(err));
      }
    });
  }
  for (const button of document.querySelectorAll("button[data-passkey-sign-in]")) {
    if (!webauthn) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      const form = button.form;
      const csrf = form.elements.csrf_token.value;
      try {
        const begun = await send("/login/passkey/begin", { csrf_token: csrf, next: form.elements.next.value });
        const options = begun.options.publicKey;
        options.challenge = unb64u(options.challenge);
        for (const credential of options.allowCredentials || []) credential.id = unb64u(credential.id);
        const used = await navigator.credentials.get({ publicKey: options });
        const credential = JSON.stringify({
          id: used.id,
          rawId: b64u(used.rawId),
          type: used.type,
          response: {
            authenticatorData: b64u(used.response.authenticatorData),
            clientDataJSON: b64u(used.response.clientDataJSON),
            signature: b64u(used.response.signature),
            userHandle: used.response.userHandle ? b64u(used.response.userHandle) : null,
          },
          extensions: {},
        });
        const done = await send("/login/passkey/finish", { csrf_token: csrf, ceremony: begun.ceremony, credential });
        go(done.redirect);
      } catch (err) {
        say(button, cancelled(err));
      }
    });
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
