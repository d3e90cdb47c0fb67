// asyncmq dashboard: apply the theme remembered in this browser before the page paints, so a
// dark choice does not flash light. Loaded without defer from the head; app.js owns the toggle.
(function () {
  "use strict";
  try {
    var t = window.localStorage.getItem("asyncmq-theme");
    if (t === "dark" || t === "light") { document.documentElement.setAttribute("data-theme", t); }
  } catch (e) { /* storage blocked: follow the system */ }
})();
