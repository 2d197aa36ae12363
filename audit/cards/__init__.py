"""Cards: an AuditReport as a model card or datasheet (Markdown, HTML, PDF, Model Card Toolkit JSON)."""
