"""Azure-compatible API views of training, deployments and the runtime."""
