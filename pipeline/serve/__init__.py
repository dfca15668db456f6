"""``digest serve``: a long-running process with the index and models loaded, a JSON API
(OpenAPI 3.1), a web page, and the client the CLI uses to reach it."""
