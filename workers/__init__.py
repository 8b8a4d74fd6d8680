"""Background work: RQ queues in production, an in-process runner in embedded mode."""
