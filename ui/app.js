// The window renders what Rust sends (the `state` event) and turns clicks
// into commands. It holds no state of its own beyond the view on screen.
"use strict";

const { invoke } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;

const $ = (id) => document.getElementById(id);

let shown = null; // the state name on screen
let revision = -1; // of the view on screen: views can arrive out of order
let countdown = null; // { deadline, timer } while a code is shown

function setText(id, text) {
  $(id).textContent = text ?? "";
}

function render(view) {
  if (!view || !view.state || view.revision < revision) return;
  revision = view.revision;
  const changed = view.state !== shown;
  shown = view.state;
  document.body.dataset.state = view.state;

  renderServer(view.server);
  $("server").classList.toggle("offline", Boolean(view.offline));
  for (const screen of document.querySelectorAll(".screen")) {
    screen.hidden = screen.dataset.screen !== view.state;
  }
  stopCountdown();

  switch (view.state) {
    case "signed_out": {
      setText("so-server", view.server ? view.server.host : "your server");
      const notice = $("so-notice");
      notice.hidden = !view.notice;
      if (view.notice) {
        notice.textContent = view.notice.text;
        notice.className = "notice" + (view.notice.tone === "warning" ? " warning" : "");
        notice.dataset.kind = view.notice.kind;
      }
      break;
    }
    case "awaiting_approval": {
      setText("user-code", view.user_code);
      setText("verify-uri", view.verification_uri.replace(/^https?:\/\//, ""));
      const qr = $("qr");
      // The SVG is made in Rust from the verification URI; nothing else goes here.
      qr.innerHTML = view.qr_svg || "";
      qr.parentElement.hidden = !view.qr_svg;
      startCountdown(view.expires_in_secs);
      break;
    }
    case "signed_in": {
      setText("si-initials", view.initials);
      setText("si-name", view.name || view.email || "Signed in");
      setText("si-email", view.name ? view.email : "");
      setText("si-org-name", view.org_name || view.org || "—");
      setText("si-org", view.org_name && view.org ? view.org : "");
      setText("si-role", view.role || "—");
      setText("si-expiry", view.expiry);
      $("si-expiry").classList.toggle("warning", view.expiring_soon);
      setText("si-storage", view.storage || "—");
      $("si-expiring").hidden = !view.expiring_soon;
      $("si-offline").hidden = !view.offline;
      setText("si-offline-detail", view.offline);
      setText("si-pill-text", view.offline ? "Offline" : "Signed in");
      $("si-pill").classList.toggle("offline", Boolean(view.offline));
      $("si-pill").querySelector("use").setAttribute("href", view.offline ? "#i-alert" : "#i-check");
      break;
    }
    case "failed": {
      setText("f-title", view.title);
      setText("f-message", view.message);
      $("f-message").hidden = !view.message;
      setText("f-hint", view.hint);
      const retry = $("f-retry");
      retry.textContent = view.retry_label;
      retry.hidden = !view.actions.includes("retry");
      $("f-settings").hidden = !view.actions.includes("settings");
      $("f-dismiss").hidden = !view.actions.includes("dismiss");
      document.body.dataset.failure = view.kind;
      break;
    }
  }
  if (changed) focusPrimary(view.state);
}

function renderServer(server) {
  const box = $("server");
  box.hidden = !server;
  if (!server) return;
  setText("server-label", server.label);
  setText("server-host", server.host);
  box.title = `${server.label}: ${server.url}`;
  box.dataset.kind = server.kind;
}

// Keyboard users land on the action that matters in each state.
function focusPrimary(state) {
  const target = {
    signed_out: "sign-in",
    setup: "setup-reopen",
    requesting: "requesting-cancel",
    awaiting_approval: "copy-code",
    failed: "f-retry",
  }[state];
  if (target && !$("settings").open) $(target).focus({ preventScroll: true });
}

// A display timer for the code's lifetime. Rust decides when the code has
// expired; this only shows the seconds ticking away.
function startCountdown(seconds) {
  const deadline = performance.now() + seconds * 1000;
  const paint = () => {
    const left = Math.max(0, Math.round((deadline - performance.now()) / 1000));
    const m = Math.floor(left / 60);
    const s = String(left % 60).padStart(2, "0");
    const el = $("countdown");
    el.textContent = `expires in ${m}:${s}`;
    el.classList.toggle("low", left < 60);
  };
  paint();
  countdown = setInterval(paint, 1000);
}

function stopCountdown() {
  if (countdown !== null) clearInterval(countdown);
  countdown = null;
}

async function call(command, args) {
  try {
    const view = await invoke(command, args);
    render(view);
  } catch (error) {
    console.error(command, error);
  }
}

async function copyCode() {
  const code = $("user-code").textContent.trim();
  const button = $("copy-code");
  let copied = false;
  try {
    await navigator.clipboard.writeText(code);
    copied = true;
  } catch {
    const range = document.createRange();
    range.selectNodeContents($("user-code"));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    copied = document.execCommand("copy");
  }
  button.classList.toggle("copied", copied);
  button.title = copied ? "Copied" : "Press Ctrl+C to copy";
  button.setAttribute("aria-label", button.title);
  setTimeout(() => {
    button.classList.remove("copied");
    button.title = "Copy code";
    button.setAttribute("aria-label", "Copy code");
  }, 1800);
}

// Settings ----------------------------------------------------------------

async function openSettings() {
  let settings;
  try {
    settings = await invoke("get_settings");
  } catch (error) {
    settings = { use_bundled: true, server: null, env_server: null, config_dir: "" };
    showSettingsError(error.message || String(error));
  }
  $("mode-bundled").checked = settings.use_bundled;
  $("mode-remote").checked = !settings.use_bundled;
  $("server-url").value = settings.server || "";
  setText("settings-dir", settings.config_dir);
  const env = $("settings-env");
  env.hidden = !settings.env_server;
  if (settings.env_server) {
    env.textContent = `${settings.env_var} is set to ${settings.env_server}; it takes precedence over the choice below.`;
  }
  syncSettings();
  showSettingsError(null);
  $("settings").showModal();
  (settings.use_bundled ? $("mode-bundled") : $("server-url")).focus();
}

function syncSettings() {
  $("server-url").disabled = $("mode-bundled").checked;
}

function showSettingsError(message) {
  const el = $("settings-error");
  el.hidden = !message;
  el.textContent = message || "";
}

async function saveSettings(event) {
  event.preventDefault();
  const useBundled = $("mode-bundled").checked;
  const server = $("server-url").value.trim();
  try {
    await invoke("save_settings", { use_bundled: useBundled, server: server || null });
    $("settings").close();
  } catch (error) {
    showSettingsError(error.message || String(error));
    $("server-url").focus();
  }
}

// Approve a device ----------------------------------------------------------
// Rust looks the code up and approves with the app's own token; the window
// only shows what comes back.

let looked_up = null; // the code whose request is on screen

function openApprove() {
  looked_up = null;
  $("ad-code").value = "";
  $("ad-code").disabled = false;
  $("ad-request").hidden = true;
  $("ad-result").hidden = true;
  $("ad-deny").hidden = true;
  $("ad-submit").hidden = false;
  setText("ad-submit", "Look up");
  showApproveError(null);
  $("approve").showModal();
  $("ad-code").focus();
}

function showApproveError(message) {
  const el = $("ad-error");
  el.hidden = !message;
  el.textContent = message || "";
}

function showRequest(view) {
  setText("ad-from", `${view.requested_from} (${view.same_network ? "this computer's network" : "another network"})`);
  $("ad-from").classList.toggle("warning", !view.same_network);
  setText("ad-when", view.requested);
  setText("ad-expires", view.expires);
  setText("ad-device", view.device);
  setText("ad-app", view.app);
  setText("ad-org", view.org_name || view.org);
  $("ad-warning").hidden = view.same_network;
  $("ad-request").hidden = false;
}

function finish(text, tone) {
  const result = $("ad-result");
  result.textContent = text;
  result.className = "notice" + (tone === "warning" ? " warning" : "");
  result.hidden = false;
  $("ad-request").hidden = true;
  $("ad-deny").hidden = true;
  $("ad-submit").hidden = true;
  $("ad-close").focus();
}

async function submitApprove(event) {
  event.preventDefault();
  showApproveError(null);
  const code = $("ad-code").value.trim();
  try {
    if (looked_up === null) {
      const view = await invoke("lookup_device", { code });
      if (view.status !== "pending") {
        showApproveError(view.status === "expired" ? "This code has expired; ask the device for a new one." : "This code was already used.");
        return;
      }
      looked_up = code;
      $("ad-code").disabled = true;
      showRequest(view);
      $("ad-deny").hidden = false;
      setText("ad-submit", "Approve");
      // From another network, Deny is the default.
      (view.same_network ? $("ad-submit") : $("ad-deny")).focus();
      return;
    }
    const days = $("ad-days").value;
    const view = await invoke("approve_device", {
      code: looked_up,
      read_only: $("ad-read").checked,
      days: days ? Number(days) : null,
    });
    const lasts = view.token_days ? ` for ${view.token_days} days` : "";
    finish(`Approved: ${view.device} is signed in to ${view.org_name || view.org}${lasts}.`, "ok");
  } catch (error) {
    showApproveError(error.message || String(error));
  }
}

async function denyDevice() {
  try {
    const view = await invoke("deny_device", { code: looked_up });
    finish(`Denied: ${view.device} was not signed in.`, "warning");
  } catch (error) {
    showApproveError(error.message || String(error));
  }
}

// New-sign-in alerts --------------------------------------------------------
// Rust hears of them on the server's event stream; each says who, from
// where, and offers Revoke. Built with textContent: names come from devices.

function renderAlerts(alerts) {
  const box = $("alerts");
  box.replaceChildren();
  for (const alert of alerts || []) {
    const item = document.createElement("div");
    item.className = "notice" + (alert.revoked ? "" : " warning") + " alert-item";
    item.dataset.token = alert.token_id;
    const text = document.createElement("span");
    text.className = "alert-text";
    text.textContent = alert.revoked
      ? `Revoked: ${alert.device} (from ${alert.ip}) is signed out.`
      : `New sign-in: ${alert.device} from ${alert.ip}. Not you?`;
    item.append(text);
    if (!alert.revoked) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary danger small-button";
      button.id = `revoke-${alert.token_id}`;
      button.textContent = "Revoke";
      button.addEventListener("click", async () => {
        try {
          renderAlerts(await invoke("revoke_sign_in", { token_id: alert.token_id }));
        } catch (error) {
          text.textContent = error.message || String(error);
        }
      });
      item.append(button);
    }
    box.append(item);
  }
}

// Wiring --------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  $("sign-in-form").addEventListener("submit", (e) => {
    e.preventDefault();
    call("sign_in");
  });
  $("setup-reopen").addEventListener("click", () => call("reopen_browser"));
  $("setup-cancel").addEventListener("click", () => call("cancel_sign_in"));
  $("requesting-cancel").addEventListener("click", () => call("cancel_sign_in"));
  $("reopen").addEventListener("click", () => call("reopen_browser"));
  $("cancel").addEventListener("click", () => call("cancel_sign_in"));
  $("copy-code").addEventListener("click", copyCode);
  $("sign-out").addEventListener("click", () => call("sign_out"));
  $("approve-device").addEventListener("click", openApprove);
  $("approve-form").addEventListener("submit", submitApprove);
  $("ad-deny").addEventListener("click", denyDevice);
  $("ad-close").addEventListener("click", () => $("approve").close());
  $("f-retry").addEventListener("click", () => call("retry"));
  $("f-dismiss").addEventListener("click", () => call("dismiss"));
  $("f-settings").addEventListener("click", openSettings);
  $("open-settings").addEventListener("click", openSettings);
  $("change-server").addEventListener("click", openSettings);
  $("settings-form").addEventListener("submit", saveSettings);
  $("settings-cancel").addEventListener("click", () => $("settings").close());
  $("mode-bundled").addEventListener("change", syncSettings);
  $("mode-remote").addEventListener("change", syncSettings);

  // Listen first, then ask: no state change can fall between the two.
  await listen("state", (event) => render(event.payload));
  await listen("alerts", (event) => renderAlerts(event.payload));
  call("current_view");
  invoke("alerts").then(renderAlerts, (error) => console.error("alerts", error));
});
