"""Wire formats shared by both ends of a call: the gateway's front doors and the simulated provider."""
