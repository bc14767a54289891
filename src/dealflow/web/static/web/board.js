// The pipeline board (templates/web/sales/pipeline.html): drag a card to another column
// to change the deal's stage. The server decides (POST /opportunities/<id>/stage/, the
// same address the cards' "Move to" forms post to without script): on success it sends
// every column's header and the moved card, on refusal the reason, and the card goes back.
// A lost stage asks for the loss reason first; Cancel puts the card back.
"use strict";

(() => {
  // The CSRF token htmx sends too (base.html puts it on <body>).
  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function showAlert(message) {
    const alert = document.getElementById("board-alert");
    alert.textContent = message;
    alert.classList.remove("d-none");
    alert.focus();
  }

  function hideAlert() {
    const alert = document.getElementById("board-alert");
    alert.textContent = "";
    alert.classList.add("d-none");
  }

  // Put a card back where it was dragged from.
  function putBack(move) {
    const before = move.from.children[move.oldIndex] || null;
    move.from.insertBefore(move.item, before);
  }

  // Replace elements by id with those of an HTML fragment the server rendered (escaped).
  function replaceFromHtml(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function applyMove(result, move) {
    Object.entries(result.headers).forEach(([stageId, html]) => {
      const header = document.getElementById(`column-header-${stageId}`);
      if (header) header.replaceWith(replaceFromHtml(html));
    });
    const card = replaceFromHtml(result.card);
    move.item.replaceWith(card);
  }

  async function postMove(move, stageName, lossReason) {
    const body = new FormData();
    body.append("stage", stageName);
    if (lossReason !== null) body.append("loss_reason", lossReason);
    // The board's filters, so the returned headers count what the board shows.
    const url = move.item.dataset.stageUrl + window.location.search;
    move.item.setAttribute("aria-busy", "true");
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      });
    } catch (error) {
      move.item.removeAttribute("aria-busy");
      putBack(move);
      showAlert("The move could not be saved: the server did not answer. Try again.");
      return;
    }
    move.item.removeAttribute("aria-busy");
    let result = {};
    try {
      result = await response.json();
    } catch (error) {
      result = {};
    }
    if (!response.ok) {
      putBack(move);
      showAlert(result.message || `The move was refused (${response.status}).`);
      return;
    }
    if (!result.headers || !result.card) {
      // Not the board's answer: most likely the session ended and this is the sign-in page.
      putBack(move);
      showAlert("The move was not saved: reload the page (you may need to sign in again).");
      return;
    }
    hideAlert();
    applyMove(result, move);
  }

  // The loss-reason dialog: resolves with the chosen reason, or null on Cancel.
  function askLossReason(dealName) {
    const dialog = document.getElementById("loss-reason-dialog");
    const form = document.getElementById("loss-reason-form");
    const select = document.getElementById("loss-reason");
    const cancel = dialog.querySelector("[data-loss-cancel]");
    document.getElementById("loss-reason-deal").textContent = dealName;
    select.value = "";
    const modal = window.tabler.bootstrap.Modal.getOrCreateInstance(dialog, { keyboard: true });
    return new Promise((resolve) => {
      let answer = null;
      const onSubmit = (event) => {
        event.preventDefault();
        if (!select.value) {
          select.reportValidity();
          return;
        }
        answer = select.value;
        modal.hide();
      };
      const onCancel = () => modal.hide();
      const onHidden = () => {
        form.removeEventListener("submit", onSubmit);
        cancel.removeEventListener("click", onCancel);
        dialog.removeEventListener("hidden.bs.modal", onHidden);
        resolve(answer);
      };
      form.addEventListener("submit", onSubmit);
      cancel.addEventListener("click", onCancel);
      dialog.addEventListener("hidden.bs.modal", onHidden);
      dialog.addEventListener("shown.bs.modal", () => select.focus(), { once: true });
      modal.show();
    });
  }

  async function onDrop(move) {
    if (move.from === move.to) return;
    const column = move.to.closest(".board-column");
    const stageName = column.dataset.stageName;
    let lossReason = null;
    if (column.dataset.stageLost === "true") {
      const name = move.item.querySelector(".board-card-name").textContent;
      lossReason = await askLossReason(name);
      if (lossReason === null) {
        putBack(move);
        return;
      }
    }
    await postMove(move, stageName, lossReason);
  }

  function toggleColumn(button) {
    const column = button.closest(".board-column");
    const collapsed = column.classList.toggle("board-column-collapsed");
    button.setAttribute("aria-expanded", collapsed ? "false" : "true");
    button.firstChild.textContent = collapsed ? "Show" : "Hide";
  }

  document.addEventListener("DOMContentLoaded", () => {
    const board = document.getElementById("board");
    if (!board) return;
    board.querySelectorAll(".board-cards").forEach((list) => {
      window.Sortable.create(list, {
        group: "board",
        sort: false, // a column is ordered by close date, not by hand
        animation: 150,
        // Pointer events rather than the browser's own drag and drop: the same on every
        // browser, touch screens included, and the card follows the pointer.
        forceFallback: true,
        fallbackOnBody: true,
        fallbackTolerance: 3,
        draggable: ".board-card",
        // Let the card's link, select and button work as usual.
        filter: "a, select, button, input, label",
        preventOnFilter: false,
        onEnd: onDrop,
      });
    });
    board.addEventListener("click", (event) => {
      const button = event.target.closest("[data-collapse-column]");
      if (button) toggleColumn(button);
    });
  });
})();
