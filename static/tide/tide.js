// Tide: the autocomplete widget and the select-all box of list pages. No framework beyond htmx.
(function () {
  function closeOptions(box) {
    const options = box && box.querySelector(".autocomplete-options");
    if (options) options.innerHTML = "";
  }

  function pick(option) {
    const box = option.closest(".autocomplete");
    const search = box.querySelector("input[type=search]");
    box.querySelector("input[type=hidden]").value = option.dataset.autocompleteValue;
    search.value = option.dataset.autocompleteText;
    search.dataset.pickedText = option.dataset.autocompleteText;
    closeOptions(box);
    search.focus();
  }

  document.addEventListener("click", function (event) {
    const option = event.target.closest("[data-autocomplete-value]");
    if (option) {
      event.preventDefault();
      pick(option);
      return;
    }
    // A click anywhere else closes the open dropdowns (but not the one being typed in).
    document.querySelectorAll(".autocomplete").forEach(function (box) {
      if (!box.contains(event.target)) closeOptions(box);
    });
  });

  document.addEventListener("input", function (event) {
    const input = event.target;
    if (!input.matches(".autocomplete input[type=search]")) return;
    // Typed text that is not the picked record no longer stands for it: the id goes until a new pick.
    const picked = input.dataset.pickedText !== undefined ? input.dataset.pickedText : input.defaultValue;
    if (input.value !== picked || input.value === "") {
      input.closest(".autocomplete").querySelector("input[type=hidden]").value = "";
    }
  });

  document.addEventListener("keydown", function (event) {
    const box = event.target.closest && event.target.closest(".autocomplete");
    if (!box) return;
    const options = Array.from(box.querySelectorAll("[data-autocomplete-value]"));
    const index = options.indexOf(event.target);
    if (event.key === "Escape" && options.length) {
      event.preventDefault();  // else Chrome also empties the search box
      closeOptions(box);
      box.querySelector("input[type=search]").focus();
    } else if (event.key === "ArrowDown" && options.length) {
      event.preventDefault();
      options[Math.min(index + 1, options.length - 1)].focus();
    } else if (event.key === "ArrowUp" && index >= 0) {
      event.preventDefault();
      (index === 0 ? box.querySelector("input[type=search]") : options[index - 1]).focus();
    } else if (event.key === "Enter" && event.target.matches("input[type=search]")) {
      // Enter in the search box picks the only match instead of submitting a half-filled form.
      event.preventDefault();
      if (options.length === 1) pick(options[0]);
    } else if (event.key === "Enter" && index >= 0) {
      // Enter on an option: htmx's click handling is not involved, so pick here.
      event.preventDefault();
      pick(options[index]);
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-select-all]")) {
      document.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = event.target.checked; });
    }
  });
})();
