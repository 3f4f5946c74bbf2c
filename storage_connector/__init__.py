"""Short-lived signed URLs on customer-owned buckets.

One `Signer` interface with one backend per store (s3, gcs, azure, local); grants, key policy, TTL policy,
revocation and the background probe are store-independent and written once.
"""
