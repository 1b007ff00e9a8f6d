"""Building blocks of the Azure-compatible HTTP API: errors, key auth, api-version and
paging (long-running operations: jobs.lro). Views subclass ``AzureApiView``."""
