"""The portal notified by signed webhooks from the outbox (DESIGN.md, "Notifications")."""
