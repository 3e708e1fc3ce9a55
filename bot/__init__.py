"""shopbot's channel-agnostic conversation engine."""
