"""modelyard.stores.local."""
