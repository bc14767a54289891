"""Duplicate control: matching keys and rules, the duplicate scan and its review queue,
merge and undo, for leads, contacts and accounts (DOMAIN.md section 8)."""
