// Tide: the autocomplete widget and the select-all box of list pages. No framework beyond htmx.
document.addEventListener("click", function (event) {
  const option = event.target.closest("[data-autocomplete-value]");
  if (!option) return;
  event.preventDefault();
  const box = option.closest(".autocomplete");
  box.querySelector("input[type=hidden]").value = option.dataset.autocompleteValue;
  box.querySelector("input[type=search]").value = option.dataset.autocompleteText;
  box.querySelector(".autocomplete-options").innerHTML = "";
});
document.addEventListener("input", function (event) {
  const input = event.target;
  if (input.matches(".autocomplete input[type=search]") && input.value === "") {
    input.closest(".autocomplete").querySelector("input[type=hidden]").value = "";
  }
});
document.addEventListener("change", function (event) {
  if (event.target.matches("[data-select-all]")) {
    document.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = event.target.checked; });
  }
});
