"""modelyard.stores."""
