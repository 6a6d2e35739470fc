// The charts page: per figure, a bar per department and day (stacked) and the day's total as
// a line, drawn by Chart.js (served from this site) from the data the server put in the page.
"use strict";

const COLORS = ["#b3261e", "#0b57d0", "#1e8e3e", "#e37400", "#9334e6", "#007b83", "#795548", "#5f6368"];

document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("chart-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  for (const chart of data.charts) {
    const bars = data.departments.map((d, i) => ({
      type: "bar",
      label: d.label,
      data: chart.series[d.key],
      backgroundColor: COLORS[i % COLORS.length],
      stack: "departments",
      order: 1,
    }));
    const total = {
      type: "line",
      label: data.total,
      data: chart.total,
      borderColor: "#1d2733",
      backgroundColor: "#1d2733",
      pointRadius: 2,
      stack: "total",
      order: 0,
    };
    new Chart(document.getElementById("chart-" + chart.key), {
      data: { labels: data.days, datasets: [...bars, total] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: true },
          y: { stacked: true, beginAtZero: true, grace: "10%", ticks: { precision: 0 } },
        },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      },
    });
  }
});
