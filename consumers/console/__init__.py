"""The incident console: server-rendered pages in the same app (Jinja2), signed-in by session cookie."""
