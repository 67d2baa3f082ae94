// Settings pages: add another row (a condition, a user) by copying the last one; switch the
// condition editor between rows and JSON. Without JavaScript the blank rows already on the page suffice.
(function () {
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-add-row]");
    if (!button) return;
    const list = button.parentElement.querySelector("[data-rows]");
    const rows = list && list.querySelectorAll("[data-row]");
    if (!rows || !rows.length) return;
    const copy = rows[rows.length - 1].cloneNode(true);
    copy.querySelectorAll("input").forEach(function (input) { input.value = ""; });
    // a new condition starts in the group of the row above it
    copy.querySelectorAll("select:not([name$='-group'])").forEach(function (select) { select.selectedIndex = 0; });
    copy.querySelectorAll(".invalid-feedback").forEach(function (e) { e.remove(); });
    list.appendChild(copy);
  });
  document.addEventListener("change", function (event) {
    if (!event.target.matches("[data-builder-mode]")) return;
    const builder = event.target.closest("[data-builder]");
    builder.querySelectorAll("[data-builder-part]").forEach(function (part) {
      part.hidden = part.dataset.builderPart !== event.target.value;
    });
  });
})();
