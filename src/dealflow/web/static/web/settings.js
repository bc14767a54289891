// Settings pages (web/settings.py). The CSP allows no inline script: pages hook in through
// data- attributes.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
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
