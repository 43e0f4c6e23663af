// The one script of the page: live counts (and the chart) over Server-Sent Events, and the
// drop zone.
// Everything else works without it (forms post, pages reload).
"use strict";

(function () {
  var live = document.getElementById("live");
  if (live && window.EventSource) {
    var seenRunning = live.dataset.running === "yes";
    var source = new EventSource(live.dataset.events);
    var set = function (id, value) {
      var el = document.getElementById(id);
      if (el && value !== undefined && value !== null) {
        el.textContent = el.dataset.template
          ? el.dataset.template.replace(/\{\w+\}/, value)
          : value;
      }
    };
    source.addEventListener("counts", function (event) {
      var data = JSON.parse(event.data);
      if (data.state === "running" || data.state === "stopping") seenRunning = true;
      var totals = document.getElementById("totals-rows");
      if (totals && data.totals) {
        var names = JSON.parse(totals.dataset.names);
        totals.textContent = "";
        Object.keys(data.totals).sort().forEach(function (k) {
          var row = totals.insertRow();
          row.insertCell().textContent = names[k] || k;
          var cell = row.insertCell();
          cell.className = "num";
          cell.textContent = data.totals[k];
        });
      }
      set("total-requests", data.total_requests);
      ["accepted", "rejected", "unknown", "failed", "in_flight", "requests", "rate"].forEach(function (k) {
        set(k, data[k]);
      });
      set("eta", data.eta === null || data.eta === undefined ? null : data.eta);
      var state = document.getElementById("state");
      if (state && state.dataset.texts) {
        var texts = JSON.parse(state.dataset.texts);
        if (texts[data.state]) state.textContent = texts[data.state];
      }
      var bar = document.getElementById("bar");
      if (bar && data.done !== undefined) bar.value = data.done;
      var of = document.getElementById("progress-of");
      if (of && data.done !== undefined) {
        of.textContent = of.dataset.template
          .replace("{done}", data.done.toLocaleString("en-US"))
          .replace("{total}", (data.to_send || 0).toLocaleString("en-US"));
      }
      var whole = data.campaign;
      var campaignOf = document.getElementById("campaign-of");
      if (campaignOf && whole) {
        campaignOf.textContent = campaignOf.dataset.template
          .replace("{done}", whole.done.toLocaleString("en-US"))
          .replace("{total}", whole.total.toLocaleString("en-US"));
      }
      if (whole) set("whole-opted-out", whole.opted_out);
      if (data.totals) set("whole-called", data.totals.accepted || 0);
      var chart = document.getElementById("chart");
      // the server's own rendering of the chart (escaped by its templates), replaced whole
      if (chart && data.chart) chart.innerHTML = data.chart;
      var output = document.getElementById("output");
      if (output && data.output) output.textContent = data.output.join("\n");
      if (data.state === "stopping") {
        var stop = document.getElementById("stop");
        if (stop) stop.disabled = true;
      }
    });
    source.addEventListener("end", function () {
      source.close();
      if (seenRunning) window.location.reload();
    });
  }

  var drop = document.getElementById("drop");
  var input = document.getElementById("file");
  if (drop && input) {
    var label = drop.querySelector("span");
    input.addEventListener("change", function () {
      if (input.files.length) label.textContent = input.files[0].name;
    });
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (event) {
        event.preventDefault();
        drop.classList.add("over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      drop.addEventListener(name, function () { drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        label.textContent = input.files[0].name;
      }
    });
  }
})();
