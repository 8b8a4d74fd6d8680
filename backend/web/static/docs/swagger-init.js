// Boots the bundled Swagger UI from a file, so /api/docs runs under the same CSP as every page.
(function () {
  "use strict";
  var container = document.getElementById("swagger-ui-container");
  // Syntax highlighting is off: its dark theme falls short of WCAG AA contrast.
  var config = { url: container.dataset.specUrl, dom_id: "#swagger-ui-container",
                 syntaxHighlight: { activated: false } };
  var extra = JSON.parse(document.getElementById("swagger-ui-config").textContent || "{}");
  Object.keys(extra).forEach(function (name) { config[name] = extra[name]; });

  // Swagger UI renders some controls without an accessible name: a parameter's <select>, the
  // request body's <textarea>, the dialog's close button. Name them whenever they appear.
  function name(selector, label) {
    container.querySelectorAll(selector + ":not([aria-label])").forEach(function (element) {
      element.setAttribute("aria-label", typeof label === "function" ? label(element) : label);
    });
  }
  function nameControls() {
    name("tr[data-param-name] select", function (s) { return s.closest("tr").dataset.paramName; });
    name("textarea", "请求体（JSON）");
    name("button.close-modal", "关闭");
  }
  new MutationObserver(nameControls).observe(container, { childList: true, subtree: true });
  window.ui = SwaggerUIBundle(config);
})();
