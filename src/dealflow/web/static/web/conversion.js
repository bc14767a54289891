// The convert page (templates/web/leads/convert.html). Typing in a lookup or in the
// opportunity name selects the radio it belongs to; choosing a lookup suggestion asks for
// the preview again (htmx listens for "change" on the form).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("[data-conversion-form]");
  if (!form) return;

  // The radio an input belongs to (data-conversion-radio on its wrapper); checks it and
  // returns it when it was not checked yet.
  const selectRadio = (element) => {
    const holder = element.closest("[data-conversion-radio]");
    const radio = holder && document.getElementById(holder.dataset.conversionRadio);
    if (!radio || radio.checked) return null;
    radio.checked = true;
    return radio;
  };

  form.addEventListener("focusin", (event) => {
    const radio = selectRadio(event.target);
    if (radio) radio.dispatchEvent(new Event("change", { bubbles: true }));
  });

  form.addEventListener("click", (event) => {
    const choice = event.target.closest("[data-lookup-choice]");
    if (!choice) return;
    // app.js fills the lookup's hidden input when this click reaches the body: wait for it.
    setTimeout(() => {
      selectRadio(choice);
      form.dispatchEvent(new Event("change", { bubbles: true }));
    });
  });

  // A second click would do no harm (the idempotency key converts once); this only shows
  // that the first is on its way. Coming back to the page (history) enables it again.
  const button = form.querySelector("[data-conversion-submit]");
  const disabledAtFirst = button.disabled;
  form.addEventListener("submit", () => {
    setTimeout(() => {
      button.disabled = true;
    });
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) button.disabled = disabledAtFirst;
  });
});
