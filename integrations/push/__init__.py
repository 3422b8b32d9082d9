"""Mobile push through Firebase Cloud Messaging (HTTP v1 API)."""
