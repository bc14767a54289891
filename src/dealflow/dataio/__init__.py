"""Data in and out: import jobs (mapping, batches, resume, revert) and exports, for every
object (DOMAIN.md section 8)."""
