"""The pure domain of SmartCloudOps: events, correlation, scoring, planning, audit hashing."""
