// The few behaviours HTMX has no attribute for. The Content-Security-Policy forbids inline handlers
// (onclick=, hx-on, hx-vals='js:...') and style="" attributes, so pages say what they want in data-*
// attributes and this file does it, for the first page and for every fragment HTMX swaps in.
(function () {
  "use strict";

  function each(root, selector, apply) {
    if (root.matches && root.matches(selector)) apply(root);
    root.querySelectorAll(selector).forEach(apply);
  }

  // Colours and widths that come from data: the CSP refuses style="" in markup, not styles set from a script.
  htmx.onLoad(function (root) {
    each(root, "[data-badge]", function (el) { el.style.setProperty("--badge", el.dataset.badge); });
    each(root, "[data-colour]", function (el) { el.style.backgroundColor = el.dataset.colour; });
    each(root, "[data-percent]", function (el) { el.style.width = el.dataset.percent + "%"; });
  });

  // <input type="checkbox" data-select-all="CSS selector">: ticks or clears every box the selector finds.
  document.addEventListener("change", function (event) {
    var box = event.target.closest && event.target.closest("[data-select-all]");
    if (!box) return;
    document.querySelectorAll(box.dataset.selectAll).forEach(function (other) { other.checked = box.checked; });
  });

  // <input data-select-on-focus>: a read-only address is selected whole when clicked, ready to copy.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) event.target.select();
  });

  // <button data-remove-closest="CSS selector">: removes the nearest enclosing element the selector finds.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-remove-closest]");
    if (!button) return;
    var target = button.closest(button.dataset.removeClosest);
    if (target) target.remove();
  });

  // hx-get with data-count-param="index" data-count="CSS selector": sends how many elements match,
  // e.g. the number of item rows already on the form, so a new row gets the next index.
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (elt.dataset && elt.dataset.countParam && elt.dataset.count) {
      event.detail.parameters[elt.dataset.countParam] = document.querySelectorAll(elt.dataset.count).length;
    }
  });
})();
