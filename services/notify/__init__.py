"""Notifications: fills, halts, breaker trips, naked legs, reconciliation findings, services not ready
and the daily PnL, to Telegram, Slack, Discord, e-mail or a webhook through Apprise, rate-limited."""
