"""The service layer shared by the API and the workers."""
