"""The bring-your-own-bucket kit: Terraform that customer IT reviews and applies in its own cloud account.

terraform-cdk (pinned at 0.21.0, deprecated upstream on 2025-12-10) is the generator only; the deliverable is
the Terraform JSON it writes, committed under `kits/byob/<cloud>/`. Every tenant-specific value is a Terraform
variable, so the committed module is the same for every tenant and `enclave byob synth` adds only the
tenant's `terraform.tfvars.json`. Only the chosen cloud's provider bindings are imported (each takes 20-30 s).
"""
