// dealflow's own behaviour for its pages. The CSP allows no inline script, so every page
// hooks in here through data- attributes.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // A form or button with data-confirm asks before an action that cannot be undone
  // (revoking a token, deactivating a user, reverting an import).
  document.body.addEventListener("submit", (event) => {
    const asking = event.submitter?.closest("[data-confirm]") || event.target.closest("[data-confirm]");
    if (asking && !window.confirm(asking.dataset.confirm)) event.preventDefault();
  });
  // After a refused save, the first field in error takes the focus (and scrolls into view).
  const invalid = document.querySelector("main [aria-invalid=true]");
  if (invalid) invalid.focus();
  // A reference picker (components/_lookup.html): choosing a suggestion fills the hidden
  // id input and the visible text, and closes the list.
  document.body.addEventListener("click", (event) => {
    const choice = event.target.closest("[data-lookup-choice]");
    if (!choice) return;
    event.preventDefault();
    const lookup = choice.closest(".lookup");
    lookup.querySelector("input[type=hidden]").value = choice.dataset.lookupChoice;
    lookup.querySelector("input[type=search]").value = choice.dataset.lookupLabel;
    lookup.querySelector(".lookup-results").replaceChildren();
  });
  // "Select all" check boxes of a list's bulk actions.
  document.body.addEventListener("change", (event) => {
    const all = event.target.closest("[data-select-all]");
    if (!all) return;
    document.querySelectorAll(`input[name="${all.dataset.selectAll}"]`).forEach((box) => {
      box.checked = all.checked;
    });
  });
});
