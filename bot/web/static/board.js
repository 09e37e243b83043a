// Draws the overview's charts with Apache ECharts from the JSON blocks beside them
// (<script type="application/json" id="chart-data-…">): no inline script, so the strict
// Content-Security-Policy holds. Every chart's numbers are also in the table under it.
(function () {
  "use strict";

  function option(data) {
    var base = {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 48, right: 24, top: 40, bottom: 64, containLabel: true },
      xAxis: { type: "category", data: data.labels, axisLabel: { interval: 0, rotate: data.labels.length > 8 ? 40 : 0 } },
      yAxis: { type: "value", name: data.unit || "", minInterval: data.unit === "条" ? 1 : 0 },
    };
    if (data.colours && data.colours.length) { base.color = data.colours; }
    base.series = data.series.map(function (s, index) {
      var entry = { name: s.name, data: s.values };
      if (data.kind === "line") {
        entry.type = "line";
        if (index === 1) { entry.lineStyle = { type: "dashed" }; entry.symbol = "none"; }
      } else {
        entry.type = "bar";
        if (data.kind === "stack") { entry.stack = "all"; }
      }
      return entry;
    });
    return base;
  }

  function draw() {
    if (typeof echarts === "undefined") { return; }
    var charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      var source = document.getElementById("chart-data-" + element.getAttribute("data-chart"));
      if (!source) { return; }
      var data = JSON.parse(source.textContent);
      if (!data.labels.length) { element.hidden = true; return; }
      var chart = echarts.init(element);
      chart.setOption(option(data));
      charts.push(chart);
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (chart) { chart.resize(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
