// asyncmq dashboard: live updates over Server-Sent Events, charts, and small form helpers.
// Loaded as a static file so the pages run under a CSP without 'unsafe-inline'; every DOM update
// uses textContent or createElement, never HTML strings.
(function () {
  "use strict";

  var body = document.body;
  var base = body.getAttribute("data-base") || "";
  var fmt = new Intl.NumberFormat("en-US");

  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function cssEscape(s) { return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, "\\$&"); }
  function pathEscape(s) { return encodeURIComponent(s); }
  function debounce(fn, ms) {
    var t = null;
    return function () { if (t) { clearTimeout(t); } t = setTimeout(function () { t = null; fn(); }, ms); };
  }

  // Select-all checkboxes, by delegation so htmx swaps need no re-binding.
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t && t.matches && t.matches("[data-select-all]")) {
      var name = t.getAttribute("data-select-all");
      $all('input[type="checkbox"][name="' + cssEscape(name) + '"]').forEach(function (c) { c.checked = t.checked; });
    }
  });

  // Copy buttons: [data-copy] holds the full value. The Clipboard API needs a focused secure
  // context; elsewhere a hidden textarea and execCommand do it.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return legacyCopy(text); });
    }
    return legacyCopy(text);
  }
  function legacyCopy(text) {
    return new Promise(function (resolve, reject) {
      var ta = document.createElement("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.className = "visually-hidden";
      document.body.append(ta);
      ta.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      ta.remove();
      if (ok) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }
  document.addEventListener("click", function (e) {
    var b = e.target && e.target.closest ? e.target.closest("[data-copy]") : null;
    if (!b) { return; }
    e.preventDefault();
    var value = b.getAttribute("data-copy");
    copyText(value).then(function () {
      b.setAttribute("data-copied", "");
      b.textContent = "Copied";
      setTimeout(function () { b.removeAttribute("data-copied"); b.textContent = "Copy"; }, 1500);
    }, function () { b.textContent = "Select and copy"; });
  });

  // Theme: the toggle flips light and dark and remembers the choice in this browser; without a
  // choice the page follows prefers-color-scheme (theme.js applies a stored choice early).
  var darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  function currentTheme() {
    var t = document.documentElement.getAttribute("data-theme");
    if (t === "dark" || t === "light") { return t; }
    return darkQuery && darkQuery.matches ? "dark" : "light";
  }
  function showTheme() {
    var dark = currentTheme() === "dark";
    $all("[data-theme-toggle]").forEach(function (b) {
      b.setAttribute("aria-pressed", dark ? "true" : "false");
      b.textContent = dark ? "Light" : "Dark";
    });
  }
  document.addEventListener("click", function (e) {
    var b = e.target && e.target.closest ? e.target.closest("[data-theme-toggle]") : null;
    if (!b) { return; }
    var next = currentTheme() === "dark" ? "light" : "dark";
    document.documentElement.setAttribute("data-theme", next);
    try { window.localStorage.setItem("asyncmq-theme", next); } catch (err) { /* not remembered */ }
    showTheme();
    restyleCharts();
  });
  if (darkQuery && darkQuery.addEventListener) {
    darkQuery.addEventListener("change", function () { showTheme(); restyleCharts(); });
  }
  showTheme();

  // Toggle forms (pause/resume of queues and repeatables) post through htmx; on success they
  // become the opposite action, and a queue's badges and other forms follow, without a reload.
  function setToggle(form, action) {
    var input = form.querySelector('input[name="action"]');
    var button = form.querySelector('button[type="submit"]');
    if (!input || !button) { return; }
    input.value = action;
    button.textContent = action === "pause" ? "Pause" : "Resume";
    var id = button.getAttribute("data-testid");
    if (id) { button.setAttribute("data-testid", id.replace(/^(pause|resume)-/, action + "-")); }
  }
  function setQueuePaused(queue, paused) {
    $all("[data-paused-queue]").forEach(function (el) {
      if (el.getAttribute("data-paused-queue") !== queue) { return; }
      el.textContent = paused ? "paused" : "running";
      el.classList.toggle("badge-warn", paused);
      el.classList.toggle("badge-ok", !paused);
    });
    $all("form[data-toggle-form][data-pause-queue]").forEach(function (f) {
      if (f.getAttribute("data-pause-queue") === queue) { setToggle(f, paused ? "resume" : "pause"); }
    });
  }
  // The action a toggle form sent is kept as it leaves: the live counts may flip the form (to
  // the state the action made) before the answer comes, and the answer must not flip it back.
  body.addEventListener("htmx:beforeRequest", function (e) {
    var form = e.detail && e.detail.elt;
    if (!form || !form.matches || !form.matches("form[data-toggle-form]")) { return; }
    var input = form.querySelector('input[name="action"]');
    if (input) { form.setAttribute("data-sent-action", input.value); }
  });
  body.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail && e.detail.elt;
    if (!e.detail.successful || !form || !form.matches || !form.matches("form[data-toggle-form]")) { return; }
    var input = form.querySelector('input[name="action"]');
    if (!input) { return; }
    var done = form.getAttribute("data-sent-action") || input.value;
    var queue = form.getAttribute("data-pause-queue");
    if (queue !== null) { setQueuePaused(queue, done === "pause"); return; }
    setToggle(form, done === "pause" ? "resume" : "pause");
    var row = form.closest("tr");
    var badge = row && row.querySelector("[data-toggle-badge]");
    if (badge) {
      badge.textContent = done === "pause" ? "paused" : "active";
      badge.classList.toggle("badge-warn", done === "pause");
      badge.classList.toggle("badge-ok", done !== "pause");
    }
  });

  function selectionActive() {
    return $all('input[type="checkbox"][name="job_id"]').some(function (c) { return c.checked; });
  }

  // Live regions refreshed through htmx: the job panel and job lists.
  function refresh(id) {
    var el = document.getElementById(id);
    if (!el || !window.htmx) { return; }
    window.htmx.ajax("GET", window.location.pathname + window.location.search, { target: "#" + id, swap: "outerHTML" });
  }
  var refreshPanel = debounce(function () { refresh("job-panel"); }, 250);
  var refreshList = debounce(function () {
    var list = document.getElementById("job-list");
    if (!list) { return; }
    if (selectionActive()) {
      var n = list.querySelector("[data-stale-notice]");
      if (n) { n.hidden = false; }
      return;
    }
    refresh("job-list");
  }, 1000);

  // An action done through htmx (HX-Trigger: asyncmq:changed) refreshes what it may have changed.
  body.addEventListener("asyncmq:changed", function () {
    if (document.getElementById("job-panel")) { refreshPanel(); }
    if (document.getElementById("job-list")) { refreshList(); }
  });

  function setCount(el, n) {
    var text = fmt.format(n);
    if (el.textContent !== text) { el.textContent = text; }
  }

  function applyCounts(data) {
    var byQueue = {};
    (data.queues || []).forEach(function (q) { byQueue[q.name] = q; });
    $all("[data-count][data-queue][data-state]").forEach(function (el) {
      var q = byQueue[el.getAttribute("data-queue")];
      if (q && q.counts) { setCount(el, q.counts[el.getAttribute("data-state")] || 0); }
    });
    $all("[data-total]").forEach(function (el) {
      var k = el.getAttribute("data-total");
      if (k === "jobs") { setCount(el, data.total_jobs || 0); }
      else if (k === "queues") { setCount(el, (data.queues || []).length); }
      else if (k === "paused") { setCount(el, data.paused || 0); }
      else if (data.totals && k in data.totals) { setCount(el, data.totals[k]); }
    });
    Object.keys(byQueue).forEach(function (name) { setQueuePaused(name, !!byQueue[name].paused); });
  }

  function link(href, text, cls) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    if (cls) { a.className = cls; }
    return a;
  }

  function addRecent(ev) {
    var list = document.getElementById("recent-events");
    if (!list) { return; }
    var empty = list.querySelector(".empty");
    if (empty) { empty.remove(); }
    var li = document.createElement("li");
    li.className = "fresh";
    li.setAttribute("data-event-id", ev.cursor);
    var time = document.createElement("time");
    time.dateTime = ev.at;
    time.textContent = new Date(ev.at).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
    var type = document.createElement("span");
    type.className = "event-type";
    type.textContent = ev.type;
    li.append(time, " ", type, " ", link(base + "/queues/" + pathEscape(ev.queue), ev.queue));
    if (ev.job_id) {
      li.append(" ", link(base + "/queues/" + pathEscape(ev.queue) + "/jobs/" + pathEscape(ev.job_id), ev.job_id, "mono"));
    }
    if (ev.task) { var t = document.createElement("span"); t.className = "muted"; t.textContent = ev.task; li.append(" ", t); }
    if (ev.detail) { var d = document.createElement("span"); d.className = "detail"; d.textContent = ev.detail; li.append(" ", d); }
    list.prepend(li);
    var max = Math.max(parseInt(list.getAttribute("data-max"), 10) || 0, 15) * 2;
    while (list.children.length > max) { list.lastElementChild.remove(); }
  }

  function applyJob(ev) {
    if (!ev.job_id) { return; }
    var sel = '[data-job-id="' + cssEscape(ev.job_id) + '"]';
    $all(sel + ' [data-field="state"]').forEach(function (el) {
      if (!ev.state) { return; }
      el.textContent = ev.type === "job:removed" ? "removed" : ev.state;
      el.className = "badge state-" + (ev.type === "job:removed" ? "cancelled" : ev.state);
    });
    if (document.querySelector('[data-job-page="' + cssEscape(ev.job_id) + '"]')) { refreshPanel(); }
    var list = document.getElementById("job-list");
    if (list && list.getAttribute("data-queue") === ev.queue) { refreshList(); }
    addRecent(ev);
  }

  var status = document.getElementById("live-status");
  function setStatus(state, text) {
    if (!status) { return; }
    status.setAttribute("data-state", state);
    status.textContent = text;
  }

  // The stream: EventSource reconnects by itself after a dropped connection and sends
  // Last-Event-ID; after a refused one (503) it gives up, so we reconnect with the last ID.
  var eventsURL = body.getAttribute("data-events-url");
  var lastId = "";
  var delay = 1000;
  var signingOut = false;
  var stream = null;
  document.addEventListener("submit", function (e) {
    if (e.target && e.target.hasAttribute && e.target.hasAttribute("data-logout")) {
      signingOut = true;
      if (stream) { stream.close(); }
    }
  });
  function connect() {
    if (!eventsURL || !window.EventSource) { setStatus("offline", "Live updates off"); return; }
    var url = eventsURL;
    if (lastId) { url += (url.indexOf("?") < 0 ? "?" : "&") + "lastEventId=" + encodeURIComponent(lastId); }
    var es = new EventSource(url);
    stream = es;
    function track(e) { if (e.lastEventId) { lastId = e.lastEventId; } }
    function parse(e) { track(e); try { return JSON.parse(e.data); } catch (err) { return null; } }
    es.addEventListener("open", function () { delay = 1000; setStatus("live", "Live"); });
    es.addEventListener("counts", function (e) { var d = parse(e); if (d) { applyCounts(d); countsChanged(e.data); } });
    es.addEventListener("job", function (e) { var d = parse(e); if (d) { applyJob(d); } });
    es.addEventListener("queue", function (e) { var d = parse(e); if (d) { addRecent(d); } });
    es.addEventListener("reset", function (e) {
      track(e);
      if (document.getElementById("job-panel")) { refreshPanel(); }
      if (document.getElementById("job-list")) { refreshList(); }
    });
    // The server ended the stream because the user signed out, was disabled or their token
    // expired: reloading meets the login gate instead of reconnecting forever.
    // When this page's own sign-out form ended the session, the form's response (which may
    // continue to the identity provider's sign-out) decides where the browser goes.
    es.addEventListener("signout", function () {
      es.close();
      setStatus("offline", "Signed out");
      if (!signingOut) { window.location.reload(); }
    });

    es.addEventListener("error", function () {
      if (es.readyState === EventSource.CLOSED) {
        setStatus("offline", "Reconnecting…");
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      } else {
        setStatus("connecting", "Reconnecting…");
      }
    });
    window.addEventListener("pagehide", function () { es.close(); }, { once: true });
  }

  // Charts: uPlot over /metrics/history.
  var charts = [];
  // Charts follow the live counts: the stream sends a counts event after each poll that saw job
  // events, and any change redraws the charts, at most once per chartRefreshMs so that a busy
  // system costs each browser one history request per interval. The first counts event of a
  // stream is its snapshot of what the page already shows; the minute timer below keeps the
  // time axis moving when nothing happens.
  var chartRefreshMs = 5000;
  var lastDraw = 0;
  var chartTimer = null;
  var lastCounts = null;
  function countsChanged(data) {
    var changed = lastCounts !== null && data !== lastCounts;
    lastCounts = data;
    if (!changed || !document.querySelector("[data-chart]")) { return; }
    var wait = lastDraw + chartRefreshMs - Date.now();
    if (wait <= 0) { drawCharts(); return; }
    if (!chartTimer) { chartTimer = setTimeout(function () { chartTimer = null; drawCharts(); }, wait); }
  }
  // Each chart kind: [field of a history point, label, colour variable].
  var seriesByKind = {
    throughput: [["completed", "Completed", "--accent"], ["failed", "Failed", "--danger"]],
    queue: [["completed", "Completed", "--accent"], ["failed", "Failed", "--danger"]],
    failures: [["failed", "Failed", "--danger"], ["retried", "Retried", "--warn"]],
    latency: [["avg_duration_ms", "Avg duration (ms)", "--accent"], ["avg_wait_ms", "Avg latency (ms)", "--warn"]],
    percentiles: [["p50_ms", "p50 (ms)", "--accent"], ["p95_ms", "p95 (ms)", "--warn"], ["p99_ms", "p99 (ms)", "--danger"]],
    wait: [["avg_wait_ms", "Avg wait (ms)", "--warn"]]
  };
  function colour(v) { return getComputedStyle(document.documentElement).getPropertyValue(v).trim() || "#3b5bdb"; }

  // active reports whether anything happened in a minute.
  function active(p) { return (p.completed || 0) + (p.failed || 0) + (p.retried || 0) + (p.started || 0) > 0; }

  // The history is zero-filled over the whole window; a chart starts at the first minute with
  // activity (or shows only the current minute), not with an hour of flat zero on a new store.
  function trimmed(h) {
    for (var i = 0; i < h.length; i++) { if (active(h[i])) { return h.slice(Math.max(i - 1, 0)); } }
    return h.slice(-1);
  }

  // The legend shows the newest values when the pointer is not over the chart.
  function showLatest(u) {
    var n = u.data[0] ? u.data[0].length : 0;
    if (n && u.cursor.idx == null) { u.setLegend({ idx: n - 1 }); }
  }

  function chartOptions(el, series, width) {
    var muted = colour("--muted");
    var grid = colour("--grid");
    var axis = { stroke: muted, grid: { stroke: grid }, ticks: { stroke: grid } };
    return {
      width: width, height: 220,
      series: [{}].concat(series.map(function (s) { return { label: s[1], stroke: colour(s[2]), width: 2 }; })),
      axes: [axis, Object.assign({ size: 50 }, axis)],
      scales: { y: { range: function (u, lo, hi) { return [0, Math.max(hi, 1)]; } } },
      legend: { live: true },
      hooks: { ready: [showLatest], setData: [showLatest], setCursor: [showLatest] }
    };
  }

  function drawChart(el) {
    var kind = el.getAttribute("data-chart");
    var series = seriesByKind[kind];
    if (!series || !window.uPlot) { return; }
    fetch(el.getAttribute("data-history-url"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("history " + r.status); } return r.json(); })
      .then(function (data) {
        var h = trimmed(data.history || []);
        var cols = [h.map(function (p) { return p.ts; })];
        series.forEach(function (s) { cols.push(h.map(function (p) { return p[s[0]] || 0; })); });
        el._cols = cols;
        var width = Math.max(el.clientWidth, 280);
        var existing = el._uplot;
        if (existing) { existing.setData(cols); existing.setSize({ width: width, height: 220 }); showLatest(existing); return; }
        el._uplot = new window.uPlot(chartOptions(el, series, width), cols, el);
        el.setAttribute("data-drawn", String(cols[0].length));
        charts.push(el);
      })
      .catch(function () { el.setAttribute("data-error", "unavailable"); });
  }

  // restyleCharts rebuilds the charts with the current theme's colours (uPlot paints on a
  // canvas, which CSS variables do not reach).
  function restyleCharts() {
    charts.forEach(function (el) {
      if (!el._uplot || !el._cols) { return; }
      var series = seriesByKind[el.getAttribute("data-chart")];
      el._uplot.destroy();
      el._uplot = new window.uPlot(chartOptions(el, series, Math.max(el.clientWidth, 280)), el._cols, el);
    });
  }

  function drawCharts() { lastDraw = Date.now(); $all("[data-chart]").forEach(drawChart); }
  window.addEventListener("resize", debounce(function () {
    charts.forEach(function (el) { if (el._uplot) { el._uplot.setSize({ width: Math.max(el.clientWidth, 280), height: 220 }); } });
  }, 200));

  connect();
  drawCharts();
  if ($all("[data-chart]").length) { setInterval(drawCharts, 60000); }
})();
