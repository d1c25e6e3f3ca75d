"""Real adapters of the domain's ports: database, broker, Redis state, AWS."""
