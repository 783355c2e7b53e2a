"""Security tests: tenant isolation, links, secrets kept out of outputs, CSV injection."""
