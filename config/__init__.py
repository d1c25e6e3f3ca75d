"""Settings and the operator's files: service catalog, remediation policies, chat roles."""
