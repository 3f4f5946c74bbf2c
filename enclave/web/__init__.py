"""Server-rendered pages: sign-in, the sign-in callback and sign-out, and the signed-in account page."""
