"""The candidate's application pages."""
