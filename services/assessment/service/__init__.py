"""The assessment service's rules, one module per thing it keeps: form versions, families, assessments.

`errors` holds every problem the rules raise; `access` how they ask the access
policy about a family's records and record what they did. No SQL here: every
query is in `services.assessment.repository`.
"""
