"""Research tools that feed the trading side: pair discovery (`pairs`) and its data loading."""
