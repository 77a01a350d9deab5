"""The namespace lab: exam sites and carrier endpoints as network namespaces on this machine.

`topology` turns an inventory into a plan (pure): namespaces, links, routes,
and where each SNMP agent goes; `netns` applies, changes and removes it;
`shaping` builds the qdiscs of `impair rate`; `agents` runs one real net-snmp
snmpd per agent, configured by `snmpd` (pure), with `ups_agent` simulating
UPS-MIB and vendor OIDs and `simulate` changing them; `environment` makes the
lab-only secrets; `guard` tells the monitor whether the lab's range is routed
into the lab; `flood` is the bounded UDP sender behind `examnet lab load`.
"""
