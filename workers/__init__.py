"""External-task handlers: one `workers.runtime.Router` per process, gathered by workers.main."""
