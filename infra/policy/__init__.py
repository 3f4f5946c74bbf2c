"""Security and isolation policy for tenant stacks: one rule set, run over the mock graph (tests, offline
preview) and as a pulumi-policy pack (`pulumi preview/up --policy-pack infra/policy`)."""
