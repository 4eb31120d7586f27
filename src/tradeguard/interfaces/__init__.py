"""Interfaces layer: REST API, dashboard and CLI. They talk only to the app's service facade."""
