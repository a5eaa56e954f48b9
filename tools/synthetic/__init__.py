"""Synthetic early help: made-up families and their stories, in the published proportions, and the requests
that tell them to the public API.

`proportions` holds the shares the stories follow; `people` the families' made-up
members and their NHS numbers; `stories` what happens to each family, planned from
a seed alone; `bodies` what the stories look like as request bodies, and the
sample assessment a benchmark submits; `gateway` the HTTP driver that sends them
as a partner system would; `loader` the telling of many stories at once, which
`python -m tools.demo_data` (`make demo-data`) runs; `plan_changes` made-up
`plan.updated` events for a benchmark's load.
"""
