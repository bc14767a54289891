"""Reports: report selectors, pipeline snapshots and forecast accuracy (DOMAIN.md section 9)."""
