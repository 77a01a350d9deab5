"""Kinds of probe: one seam, one registry (`monitor.probing.registry.PROBES`).

`kind` says what a kind of probe declares (its name, what it probes, its
cadence, how it runs one probe, where the observation goes); `icmp` and
`snmp` are the two kinds today; `registry` is the only list of them, which
the scheduler, the lab guard and the runtime iterate.
"""
