"""The namespace lab: exam sites and carrier endpoints as network namespaces on this machine.

`topology` turns an inventory into a plan (pure); `netns` applies, changes and
removes it; `guard` tells the monitor whether the lab's range is routed into
the lab; `flood` is the bounded UDP sender behind `examnet lab load`.
"""
