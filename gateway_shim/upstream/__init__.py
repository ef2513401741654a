"""The gateway's side of the upstream wire: one client per configured provider (`simulated`, `openai`,
`bedrock`), built from the config by `registry`."""
