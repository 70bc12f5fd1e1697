"""The HTTP front end: the FastAPI app, its middleware, routes, pages and admin endpoints."""
