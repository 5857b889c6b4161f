"""Monitors over the prediction log, alerts, incidents and notifications."""
