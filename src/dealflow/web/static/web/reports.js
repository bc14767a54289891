// The dashboard (templates/web/reports/dashboard.html): one ECharts chart per panel, drawn
// from the JSON the server put beside it (json_script: no inline script runs, the CSP
// allows only files). Clicking a bar, a funnel step or a slice opens the list page of the
// records behind it, with the page's filters: the server computed each address.
// Tooltips are drawn on the canvas (renderMode "richText"): ECharts' HTML tooltips carry
// style attributes, which the CSP refuses.
"use strict";

(() => {
  const KINDS = {
    money: (value) => value.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 }),
    fraction: (value) => `${(value * 100).toFixed(1)}%`,
    days: (value) => `${value.toFixed(1)} d`,
    integer: (value) => value.toLocaleString(),
  };

  // Value-axis ticks: short (70M, 1.5K, 45 d) so a narrow chart does not clip them; the
  // tooltip and the table beside the chart give the exact figures.
  const COMPACT = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
  const TICKS = {
    fraction: KINDS.fraction,
    days: (value) => `${COMPACT.format(value)} d`,
  };

  function tick(kind) {
    const formatter = TICKS[kind] || ((value) => COMPACT.format(value));
    return (value) => (value === null || value === undefined ? "" : formatter(value));
  }

  function format(kind) {
    const formatter = KINDS[kind] || ((value) => String(value));
    return (value) => (value === null || value === undefined ? "" : formatter(value));
  }

  // The address behind a point: per series when a series has its own, else per category.
  function linkOf(spec, seriesIndex, dataIndex) {
    const series = spec.series[seriesIndex] || {};
    const links = series.links || spec.links || [];
    return links[dataIndex] || "";
  }

  function funnelOption(spec) {
    const values = spec.series[0].values;
    const show = format(spec.value_kind);
    return {
      tooltip: { trigger: "item", renderMode: "richText", formatter: (item) => `${item.name}: ${show(item.value)}` },
      series: [
        {
          type: "funnel",
          sort: "none",
          minSize: "8%",
          left: "5%",
          width: "90%",
          label: { show: true, position: "inside", formatter: (item) => `${item.name}: ${show(item.value)}` },
          data: spec.categories.map((name, index) => ({ name, value: values[index] })),
        },
      ],
    };
  }

  function barOption(spec) {
    const horizontal = spec.chart === "hbar";
    const show = format(spec.value_kind);
    // Every category named: slanted under vertical bars when there are many.
    const crowded = !horizontal && spec.categories.length > 5;
    const categoryAxis = {
      type: "category",
      data: spec.categories,
      // Long names wrap onto a second line rather than being cut ("Proposal/Price Quote").
      axisLabel: { interval: 0, rotate: crowded ? 30 : 0, width: horizontal ? 140 : 120, overflow: "break" },
    };
    const valueAxis = { type: "value", axisLabel: { formatter: tick(spec.value_kind), hideOverlap: true } };
    if (horizontal) {
      categoryAxis.inverse = true;
    }
    return {
      tooltip: { trigger: "axis", renderMode: "richText", axisPointer: { type: "shadow" }, valueFormatter: show },
      legend: spec.series.length > 1 ? { top: 0, type: "scroll" } : { show: false },
      // Room on the right for the last tick's label, centred under the axis's end.
      grid: { left: 8, right: horizontal ? 28 : 16, bottom: 8, top: spec.series.length > 1 ? 32 : 12, containLabel: true },
      xAxis: horizontal ? valueAxis : categoryAxis,
      yAxis: horizontal ? categoryAxis : valueAxis,
      series: spec.series.map((series) => ({
        name: series.name,
        type: "bar",
        stack: spec.stacked ? "total" : undefined,
        emphasis: { focus: "series" },
        data: series.values,
      })),
    };
  }

  function draw(element) {
    const source = document.getElementById(element.dataset.chart);
    if (!source || typeof echarts === "undefined") {
      return;
    }
    const spec = JSON.parse(source.textContent);
    const chart = echarts.init(element, null, { renderer: "canvas" });
    chart.setOption(spec.chart === "funnel" ? funnelOption(spec) : barOption(spec));
    chart.on("click", (item) => {
      const link = linkOf(spec, spec.chart === "funnel" ? 0 : item.seriesIndex, item.dataIndex);
      if (link) {
        window.location.assign(link);
      }
    });
    // Marked once the first animation has ended: the bars are where they will stay.
    chart.on("finished", () => {
      element.dataset.drawn = "true";
    });
    return chart;
  }

  // A table larger than its box says so under it (the box scrolls; its cut edge alone
  // reads as missing text): "Scroll the table for more rows / sideways for more columns".
  function markScrolling(box) {
    const hint = box.parentElement.querySelector(".report-scroll-hint");
    const down = box.scrollHeight > box.clientHeight + 1;
    const across = box.scrollWidth > box.clientWidth + 1;
    box.classList.toggle("is-scrollable-y", down);
    box.classList.toggle("is-scrollable-x", across);
    if (!hint) {
      return;
    }
    const parts = [];
    if (down) {
      parts.push("down for more rows");
    }
    if (across) {
      parts.push("sideways for more columns");
    }
    hint.textContent = parts.length ? `Scroll the table ${parts.join(" and ")}.` : "";
    hint.hidden = !parts.length;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const charts = Array.from(document.querySelectorAll("[data-chart]")).map(draw).filter(Boolean);
    const tables = Array.from(document.querySelectorAll(".report-table"));
    tables.forEach(markScrolling);
    window.addEventListener("resize", () => {
      charts.forEach((chart) => chart.resize());
      tables.forEach(markScrolling);
    });
  });
})();
