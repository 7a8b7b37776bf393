"""Twilio Autopilot v1 ModelBuilds: the HTTP client and the ModelBuild provider."""
