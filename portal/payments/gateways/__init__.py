"""Payment gateways: one module per channel, all speaking base.Gateway."""
