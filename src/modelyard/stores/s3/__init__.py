"""modelyard.stores.s3."""
