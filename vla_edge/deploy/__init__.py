"""`vla-edge deploy`: put a bundle and the torch-free runtime onto robot computers over SSH.

Probe the target, check the bundle against its device profile, copy it content-addressed and
resumable into DIR/bundles/<hash>/, verify every sha256 there with vla_edge.bundle, switch
DIR/current atomically, health-check, and roll back by itself when the check fails.
"""
