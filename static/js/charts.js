/* Draw every Plotly figure on the page. Figures are built on the server (portal/reports/
   figures.py) and embedded as JSON next to an element with data-figure="<json block id>";
   this file only hands them to the vendored plotly.js, so the CSP can forbid inline script. */
(function () {
  "use strict";
  var config = { responsive: true, displayModeBar: false, displaylogo: false };

  function draw(el) {
    var source = document.getElementById(el.getAttribute("data-figure"));
    if (!source || typeof window.Plotly === "undefined") { return; }
    var figure;
    try {
      figure = JSON.parse(source.textContent);
    } catch (err) {
      return;  /* the data table beside the chart still shows the numbers */
    }
    var layout = figure.layout || {};
    layout.autosize = true;
    window.Plotly.newPlot(el, figure.data || [], layout, config).then(function () {
      el.classList.add("chart-ready");
    });
  }

  function drawAll() {
    var charts = document.querySelectorAll("[data-figure]");
    for (var i = 0; i < charts.length; i += 1) { draw(charts[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
