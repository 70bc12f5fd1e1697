"""Turn policy report text into a searchable index directory."""
