"""Reports: HTML reports and figures drawn from results; compute nothing."""
