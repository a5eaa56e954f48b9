"""The plan service: Family plans from identify to review, step-up and step-down, and the councils' reports."""
