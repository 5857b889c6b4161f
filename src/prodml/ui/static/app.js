// Draws every Vega-Lite chart on the page (and in content htmx swaps in); the spec is
// JSON data in a <script type="application/json"> inside each .chart element.
(function () {
  "use strict";

  function draw(root) {
    root.querySelectorAll(".chart").forEach(function (box) {
      if (box.dataset.drawn) return;
      var data = box.querySelector('script[type="application/json"]');
      if (!data) return;
      box.dataset.drawn = "1";
      var spec = JSON.parse(data.textContent);
      var target = document.createElement("div");
      box.appendChild(target);
      vegaEmbed(target, spec, { actions: false, renderer: "svg", defaultStyle: false })
        .catch(function (error) {
          target.textContent = "Chart failed: " + error.message;
          target.className = "error";
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (event) { draw(event.target); });
})();
