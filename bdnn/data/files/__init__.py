"""Data files shipped with bdnn (gzip-compressed CSV); see ATTRIBUTION.md for sources."""
