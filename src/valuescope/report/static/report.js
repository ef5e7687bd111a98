/* Renders every .chart[data-figure] with plotly.js once it is available.
   plotly.js is inlined either raw or gzip+base64 (decompressed here, offline). */
(function () {
  "use strict";
  var CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

  function renderAll() {
    var charts = document.querySelectorAll(".chart[data-figure]");
    var done = 0, failed = 0;
    charts.forEach(function (el) {
      try {
        var fig = JSON.parse(el.getAttribute("data-figure"));
        el.innerHTML = "";
        window.Plotly.newPlot(el, fig.data, fig.layout, CONFIG);
        done += 1;
      } catch (err) {
        failed += 1;
        el.textContent = "This chart could not be drawn: " + err;
        el.classList.add("failed");
      }
    });
    document.body.setAttribute("data-charts-rendered", String(done));
    document.body.setAttribute("data-charts-failed", String(failed));
  }

  function loadGzipped(node) {
    if (typeof DecompressionStream === "undefined") {
      document.querySelectorAll(".chart .loading").forEach(function (el) {
        el.textContent = "Charts need a browser with DecompressionStream (Chrome 80+, Firefox 113+, Safari 16.4+).";
      });
      return;
    }
    var bin = atob(node.textContent.trim());
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    new Response(stream).text().then(function (code) {
      var script = document.createElement("script");
      script.textContent = code;
      document.head.appendChild(script);
      renderAll();
    });
  }

  var gz = document.getElementById("plotly-gz");
  if (window.Plotly) renderAll();
  else if (gz) loadGzipped(gz);
})();
