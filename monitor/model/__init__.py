"""The model: what examnet knows and the words it judges with. Imports nothing of examnet.

Inventory types and their defaults (`inventory`), the exam calendar
(`calendar`, `cadence`), the vocabulary of kinds, severities and states
(`vocabulary`), stable keys (`keys`), records (`records`), alerting
config (`alerting`, `notifiers`, `matchers`), redundancy groups, the
rehearsal shift of the plan, the retry backoff, the injected clock and
`Secret`. Every other layer builds on these.
"""
