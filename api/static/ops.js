// rosterjobs operations: live progress of the queued and running jobs on the page.
// Every 2 s it asks /ops/jobs.json for the jobs marked data-live and updates their status,
// progress bar, counts, attempts and duration in place; a job that finished stops being
// polled. Nothing else on the page changes (new jobs show on the next reload), except on a
// job's own page, which reloads once the job has finished, to show its counts and files.
(function () {
  "use strict";
  var INTERVAL_MS = 2000;

  function liveIds() {
    var ids = [];
    document.querySelectorAll("[data-job][data-live]").forEach(function (el) {
      ids.push(el.getAttribute("data-job"));
    });
    return ids.slice(0, 100);
  }

  function formatNumber(n) {
    return n === null || n === undefined ? "" : Number(n).toLocaleString("en-US");
  }

  function formatSeconds(s) {
    if (s === null || s === undefined) return "";
    if (s < 1) return Math.round(s * 1000) + " ms";
    if (s < 10) return s.toFixed(1) + " s";
    var whole = Math.floor(s);
    if (whole < 60) return whole + " s";
    if (whole < 3600) return Math.floor(whole / 60) + " min " + String(whole % 60).padStart(2, "0") + " s";
    return Math.floor(whole / 3600) + " h " + String(Math.floor((whole % 3600) / 60)).padStart(2, "0") + " min";
  }

  // As the server writes the counts cell: no-break spaces inside each count, so a narrow
  // column wraps between counts, never between a count's name and its number.
  function keepCountsWhole(text) {
    return text.split(" · ").map(function (count) { return count.replace(/ /g, "\u00a0"); }).join(" · ");
  }

  function setText(root, selector, text) {
    var el = root.querySelector(selector);
    if (el && el.textContent !== text) el.textContent = text;
  }

  function updateStatus(root, job) {
    var badge = root.querySelector("[data-status]");
    if (!badge) return;
    badge.textContent = job.status.replace(/_/g, " ");
    badge.className = "status status-" + job.status;
  }

  function update(root, job) {
    var bar = root.querySelector("[data-progress]");
    if (bar && job.total) {
      bar.max = job.total;
      bar.value = job.processed;
    } else if (bar && !job.live) {
      bar.max = 1;
      bar.value = job.status.indexOf("completed") === 0 ? 1 : 0;
    }
    var figures = formatNumber(job.processed);
    if (job.total !== null) figures += " / " + formatNumber(job.total);
    setText(root, "[data-figures]", figures);
    setText(root, "[data-counts]", keepCountsWhole(job.counts));
    setText(root, "[data-attempts]", String(job.attempts));
    setText(root, "[data-duration]", formatSeconds(job.duration_s));
    updateStatus(root, job);
    root.classList.toggle("is-stuck", Boolean(job.stuck));
    if (!job.live) {
      root.removeAttribute("data-live");
      if (root.hasAttribute("data-reload-when-done")) window.location.replace(window.location.pathname);
    }
  }

  function poll() {
    var ids = liveIds();
    if (ids.length === 0) return;
    fetch("/ops/jobs.json?ids=" + ids.map(encodeURIComponent).join(","), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (response.status === 401) {
          window.location.reload(); // the session ended: the page sends to the login form
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (body) {
        if (!body) return;
        body.jobs.forEach(function (job) {
          document.querySelectorAll('[data-job="' + job.id + '"]').forEach(function (root) {
            update(root, job);
          });
        });
      })
      .catch(function () {
        /* the API is restarting or the network blinked: try again next round */
      });
  }

  window.setInterval(poll, INTERVAL_MS);
})();
