"""Fleet scale: discovery sweeps, scope, inventory reconciliation."""
