// Starts Swagger UI on /docs. A file, not an inline script, so the page's CSP applies unchanged.
// The settings are FastAPI's defaults, plus no validator badge (it is fetched from the internet).
(function startSwaggerUi() {
  const container = document.getElementById('swagger-ui');
  window.ui = window.SwaggerUIBundle({
    url: container.dataset.openapiUrl,
    dom_id: '#swagger-ui',
    layout: 'BaseLayout',
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
  });
})();
