"""The plan's compliance report (`examnet report`, scheduled reports).

`rules` judges (pure: incidents in, outcomes out), `build` assembles the
report from the stored rows (availability through `monitor.availability`),
`html` / `markdown` / `charts` only render what `build` made.
"""
