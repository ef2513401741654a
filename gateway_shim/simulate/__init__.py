"""`aigw simulate`: scenario files and a virtual clock driving the gateway's own code into the lake."""
