"""storage_connector package."""
