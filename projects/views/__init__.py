"""Studio UI views (server-rendered templates with htmx partials)."""
