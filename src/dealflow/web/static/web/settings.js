// Settings pages (web/settings.py). The CSP allows no inline script: pages hook in through
// data- attributes.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // A form or button with data-confirm asks before an action that cannot be undone
  // (revoking a token, deactivating a user).
  document.body.addEventListener("submit", (event) => {
    const asking = event.submitter?.closest("[data-confirm]") || event.target.closest("[data-confirm]");
    if (asking && !window.confirm(asking.dataset.confirm)) event.preventDefault();
  });
  // "Copy the token": the new token's secret to the clipboard, with its input selected so
  // it can be copied by hand where the clipboard is not available.
  document.body.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const input = document.getElementById(button.dataset.copy);
    input.select();
    navigator.clipboard?.writeText(input.value).then(() => {
      button.textContent = "Copied";
    });
  });
});
