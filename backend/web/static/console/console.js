/* 随时评 管理后台: charts (ECharts, served locally), sortable tables, auto-submitting filters.
   No inline scripts (CSP): chart data comes from <script type="application/json"> blocks. */
(function () {
  "use strict";

  var PALETTE = ["#0b4ea2", "#5b9bd5", "#c8a24a", "#17803d", "#c4261d", "#7f56d9"];
  var charts = [];

  function pct(v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%"; }

  function base() {
    return {
      color: PALETTE,
      textStyle: { fontFamily: "system-ui, 'PingFang SC', 'Microsoft YaHei', sans-serif" },
      // richText tooltips are drawn on the canvas: no inline style attributes (CSP).
      tooltip: { trigger: "axis", renderMode: "richText", confine: true },
      legend: { top: 0, textStyle: { color: "#5b6472" } },
      grid: { left: 12, right: 16, top: 36, bottom: 8, containLabel: true },
      animationDuration: 300
    };
  }

  function trend(data) {
    var option = base();
    var counts = !!data.counts;
    option.xAxis = { type: "category", data: data.x, axisTick: { alignWithLabel: true } };
    option.yAxis = [{ type: "value", name: "数量", minInterval: 1 }];
    if (!counts && data.lines.length) {
      option.yAxis.push({ type: "value", name: "比率", min: 0, max: 1,
        axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } },
        splitLine: { show: false } });
    }
    option.series = data.bars.map(function (s) {
      return { name: s.name, type: "bar", data: s.values, barMaxWidth: 18 };
    }).concat(data.lines.map(function (s) {
      return { name: s.name, type: "line", yAxisIndex: counts ? 0 : 1, data: s.values,
        smooth: true, smoothMonotone: "x", symbolSize: 5, connectNulls: true,
        tooltip: counts ? {} : { valueFormatter: pct } };
    }));
    return option;
  }

  function bars(data) {
    var option = base();
    option.legend = { show: false };
    option.tooltip.valueFormatter = data.pct ? pct : undefined;
    option.grid.top = 8;
    option.xAxis = { type: "value", max: data.pct ? 1 : null,
      axisLabel: { formatter: data.pct ? function (v) { return Math.round(v * 100) + "%"; }
                                       : undefined } };
    option.yAxis = { type: "category", data: data.labels, axisLabel: { width: 140,
      overflow: "truncate" } };
    option.series = [{ type: "bar", data: data.values, barMaxWidth: 16,
      label: { show: true, position: "right", formatter: function (p) {
        return data.pct ? pct(p.value) : p.value; } } }];
    return option;
  }

  function groups(data) {
    var option = base();
    option.tooltip.valueFormatter = pct;
    option.xAxis = { type: "category", data: data.labels };
    option.yAxis = { type: "value", min: 0, max: 1,
      axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } };
    option.series = data.series.map(function (s) {
      return { name: s.name, type: "bar", data: s.values, barMaxWidth: 28 };
    });
    return option;
  }

  function funnel(data) {
    var option = base();
    option.tooltip = { trigger: "item", renderMode: "richText" };
    option.series = [{ type: "funnel", sort: "none", left: "10%", right: "10%", top: 36,
      bottom: 10, minSize: "18%", gap: 3, data: data.stages,
      label: { show: true, position: "inside", color: "#fff",
        formatter: function (p) { return p.name + "  " + p.value.toLocaleString("zh-CN"); } } }];
    return option;
  }

  var BUILDERS = { trend: trend, bars: bars, groups: groups, funnel: funnel };

  function drawCharts() {
    if (!window.echarts) { return; }
    document.querySelectorAll(".chart[data-kind]").forEach(function (el) {
      var source = document.getElementById("chart-data-" + el.dataset.chartId);
      var build = BUILDERS[el.dataset.kind];
      if (!source || !build) { return; }
      var chart = window.echarts.init(el, null, { renderer: "canvas", locale: "ZH" });
      chart.setOption(build(JSON.parse(source.textContent)));
      chart.on("finished", function () { el.dataset.drawn = "1"; });
      charts.push(chart);
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (c) { c.resize(); });
    });
  }

  function cellValue(row, index, numeric) {
    var cell = row.children[index];
    var raw = cell ? (cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent) : "";
    if (!numeric) { return raw.trim(); }
    var n = parseFloat(raw);
    return isNaN(n) ? -Infinity : n;
  }

  function sortBy(th) {
    var table = th.closest("table");
    var body = table.tBodies[0];
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.dataset.sort === "num";
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th[aria-sort]").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
      var order = numeric ? x - y : String(x).localeCompare(String(y), "zh-CN");
      return ascending ? order : -order;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  function sortableTables() {
    document.querySelectorAll("table.sortable th[data-sort]").forEach(function (th) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(th); }
      });
    });
  }

  function autoSubmit() {
    document.querySelectorAll("form.filters select[data-auto]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.requestSubmit(); });
    });
  }

  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        if (!window.confirm(form.dataset.confirm)) { e.preventDefault(); }
      });
    });
  }

  function checkAll() {
    document.querySelectorAll("input[data-check-all]").forEach(function (box) {
      box.addEventListener("change", function () {
        var name = box.dataset.checkAll;
        document.querySelectorAll("input[type=checkbox][name='" + name + "']").forEach(
          function (other) { other.checked = box.checked; });
      });
    });
  }

  // A print of campaign slips runs as a job: poll its progress until the PDF is ready.
  function printProgress() {
    var box = document.querySelector(".print-box[data-print-status]");
    if (!box || !box.dataset.printStatus) { return; }
    var bar = document.getElementById("print-bar"), state = document.getElementById("print-state");
    var link = document.getElementById("print-download"), error = document.getElementById("print-error");
    function poll() {
      fetch(box.dataset.printStatus, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (job) {
          bar.value = job.percent || 0;
          state.textContent = job.status_name + " " + job.done + "/" + job.total;
          if (job.pdf_url) { link.href = job.pdf_url; link.hidden = false; }
          if (job.error) { error.textContent = job.error; }
          box.dataset.state = job.status;
          if (job.status === "queued" || job.status === "running") { window.setTimeout(poll, 800); }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    poll();
  }

  // An open campaign's turnout cards refresh every minute from the page's JSON twin.
  function liveTurnout() {
    var live = document.getElementById("live-turnout");
    if (!live) { return; }
    window.setInterval(function () {
      fetch(live.dataset.liveUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (page) {
          var values = document.querySelectorAll(".cards .card .value");
          (page.cards || []).forEach(function (card, i) {
            if (values[i]) { values[i].textContent = card.value; }
          });
        })
        .catch(function () {});
    }, 60000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    checkAll();
    liveTurnout();
    drawCharts();
    sortableTables();
    autoSubmit();
    confirmations();
    printProgress();
  });
})();
