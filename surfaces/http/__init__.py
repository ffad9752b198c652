"""The HTTP surfaces (Flask): webhooks, the web API, the admin dashboard, health and metrics."""
