"""``csms worker``: the durable jobs (ADR 0004), any number of replicas."""
