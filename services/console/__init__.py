"""The operator's web console: the stack as one live page (from the bus), and halt/resume and
stop/start behind a login."""
