// Swagger UI's start-up, served as a file so that the page's Content-Security-Policy needs no
// inline script (alliance_platform/pages.py). The OpenAPI document's URL is on the page.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    // Off: a deep link inside each operation's toggle button nests interactive controls
    // (axe-core: nested-interactive), and highlighted examples fall short of AA contrast.
    deepLinking: false,
    syntaxHighlight: false,
    showExtensions: true,
    showCommonExtensions: true,
    // No badge fetched from the public validator: nothing leaves the service's origin.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
});
