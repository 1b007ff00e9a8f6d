"""Building blocks of the Azure-compatible HTTP API: errors, key auth, api-version,
paging and long-running operations. Views subclass ``AzureApiView``."""
