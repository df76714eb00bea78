// Hide the intake form's fields that only apply to some choices (e.g. 订单号 for 产品质量).
// Without this script every field shows; the server ignores answers to hidden fields.
"use strict";
(function () {
  var form = document.querySelector("form.intake");
  if (!form) return;
  var dependents = Array.prototype.slice.call(form.querySelectorAll("[data-show-when]"));
  function chosen(name) {
    var checked = form.querySelector('[name="' + name + '"]:checked');
    if (checked) return checked.value;
    var select = form.querySelector('select[name="' + name + '"]');
    return select ? select.value : "";
  }
  function update() {
    dependents.forEach(function (el) {
      var values = JSON.parse(el.getAttribute("data-show-values") || "[]");
      el.hidden = values.indexOf(chosen(el.getAttribute("data-show-when"))) < 0;
    });
  }
  form.addEventListener("change", update);
  update();
})();
