"""modelyard.demo."""
