"""Sites use cases, by aggregate: sites and their actions (sites), notice batches
(batches), content dispositions (dispositions)."""
