"""The assessment service: Families, versioned form definitions and assessments, told once and carried forward."""
