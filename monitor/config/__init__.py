"""Load sites.toml (version 1) into the frozen inventory of `monitor.model.inventory`.

The file is parsed once with tomllib; every value goes through a `Reader`
that knows where it is (item and field), so a problem names both and says
what was expected. Problems are collected, never raised one by one: the
operator fixes a whole file in one pass. docs/sites-toml.md is the reference.

Modules: `problems` (Problem, ConfigError, message wording), `values` (value
parsers), `secrets` (`${NAME}`), `reader` (the Reader), one module per
section group (`calendar`, `probe`, `carriers`, `devices`, `sites`, and
`judging` for `[severity]`, `[readiness]`, `[monitor]`, `notifiers` for
`[[notifiers]]`, `alerting` for `[alerting]`, `[[routes]]` and
`[[silences]]`), `loader` (syntax, top level, whole-file checks,
fake-redundancy warnings) and `summary`.
"""

from monitor.config.loader import (
    lab_prefix_of,
    load_inventory,
    plan_zone_of,
    referenced_variables,
)
from monitor.config.problems import BadValueError, ConfigError, Problem
from monitor.config.secrets import expand
from monitor.config.summary import summarize
from monitor.config.values import address, capacity, duration, milliseconds

__all__ = [
    "BadValueError",
    "ConfigError",
    "Problem",
    "address",
    "capacity",
    "duration",
    "expand",
    "lab_prefix_of",
    "load_inventory",
    "milliseconds",
    "plan_zone_of",
    "referenced_variables",
    "summarize",
]
