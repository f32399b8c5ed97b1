"""modelyard.integrations."""
