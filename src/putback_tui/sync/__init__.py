"""Terminal sync: wire models, HTTP client and the background worker."""
