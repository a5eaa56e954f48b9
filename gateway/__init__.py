"""The gateway: the one public entry to Graduated Pathway."""
