"""modelyard.stores.sql."""
