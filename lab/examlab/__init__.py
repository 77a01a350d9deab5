"""The namespace lab: exam sites and carrier endpoints as network namespaces on this machine.

A tool for the demo and the tests, not part of the product: its own
distribution (lab/pyproject.toml). It depends on the product (the inventory,
config, and `monitor.model.labplan`, the address plan); the product knows only its
guard (`monitor.labguard`) and reaches the lab lazily from `examnet lab` and
`examnet run --lab`.

By job:

- `topology`: an inventory turned into a plan (pure): namespaces, links,
  routes, and where each SNMP agent goes;
- `shell`: running `ip`, `tc`, `nft`, `sysctl`; `processes`: PIDs the lab started;
- `state`: the state file of a running lab, its impairments and floods;
- `build`: the plan applied (`up`), removed (`down`), and `changing` a lab that is up;
- `impair`: links down, rate (with `shaping`), loss, load (starting `flood`,
  the bounded UDP sender);
- `status`: what the kernel and the state file show now;
- `agents`: one real net-snmp snmpd per agent, configured by `snmpd` (pure),
  with `ups_agent` simulating UPS-MIB and vendor OIDs and `simulate` changing them;
- `environment`: the lab-only secrets; `cli`: `examnet lab ...`.
"""
