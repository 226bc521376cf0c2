"""collections (催缴): arrears cases, the tier engine, reasons from service signals, the
contact log, payment plans, written notices and the three lists."""
