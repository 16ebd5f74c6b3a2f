"""pyzeebe task handlers: one router per process, gathered by workers.main."""
