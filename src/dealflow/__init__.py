"""dealflow: a self-hosted CRM for the lead-to-opportunity sales pipeline."""

__version__ = "0.1.0"
