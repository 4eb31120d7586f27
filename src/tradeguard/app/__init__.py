"""App layer: asyncio orchestration of the core through ports; the service facade."""
