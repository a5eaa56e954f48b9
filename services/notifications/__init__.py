"""The notifications service: Webhook subscriptions, delivery with retries, and reminders."""
