"""What the HTTP API and the web pages share: routing, request context, problem details, host parsing,
authentication of a request and CSRF checks."""
