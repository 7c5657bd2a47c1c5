"""Architecture descriptions (register tables, target.xml, signal numbering)."""
