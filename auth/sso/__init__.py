"""Single sign-on: providers (Google, GitHub, Microsoft, any OIDC issuer, Keycloak), the authorization-code
flow with PKCE, state and nonce, and strict ID-token validation."""
