// The public Web-to-Lead pages (web/web_to_lead.py). The CSP allows no inline script.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // "Go back" returns to the form as the visitor left it (the browser keeps what was
  // typed); without a history, the link goes to the page the Referer named.
  document.body.addEventListener("click", (event) => {
    const link = event.target.closest("[data-go-back]");
    if (!link) return;
    if (window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
});
