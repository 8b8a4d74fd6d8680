"""Where the console's read queries were: they live in backend/services/reports now."""
