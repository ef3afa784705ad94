// Refreshes the parts of a page marked data-live every second, while the
// page is visible, by fetching the page again and swapping in those parts.
// Without JavaScript the page reads the same (and reloads every 5 s).
(function () {
  "use strict";
  if (!document.querySelector("[data-live]")) return;
  var busy = false;
  async function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      var res = await fetch(location.href, {
        headers: { "X-Console-Live": "1" },
        credentials: "same-origin",
        cache: "no-store",
        redirect: "manual",
      });
      if (res.status === 401 || res.type === "opaqueredirect") {
        location.assign("/console/login");
        return;
      }
      if (!res.ok) return;
      var fresh = new DOMParser().parseFromString(await res.text(), "text/html");
      document.querySelectorAll("[data-live]").forEach(function (el) {
        var next = fresh.getElementById(el.id);
        if (!next) return;
        if (next.innerHTML !== el.innerHTML) el.innerHTML = next.innerHTML;
        for (var i = 0; i < next.attributes.length; i++) {
          var a = next.attributes[i];
          if (el.getAttribute(a.name) !== a.value) el.setAttribute(a.name, a.value);
        }
      });
      document.documentElement.setAttribute("data-refreshed", String(Date.now()));
    } catch (e) {
      // A failed refresh is retried at the next tick.
    } finally {
      busy = false;
    }
  }
  setInterval(refresh, 1000);
})();
