"""The counter workstation: find or register the citizen, intake on their behalf, outcomes."""
