"""Routes, one module per concern. Each module's ``router`` carries the CSRF check
(:func:`forensics.web.auth.csrf_protect`); add a new concern (the investigator pages,
``/api/v1``) as a module here and list it in :data:`ROUTERS`."""

from __future__ import annotations

from forensics.web.routes import (
           admin,
           api,
           api_graph,
           evidence,
           images,
           investigator,
           queue,
           session,
)

#: every router of the app, in the order they are mounted
ROUTERS = [session.router, queue.router, evidence.router, images.router, admin.router, investigator.router,
           api.router]

# api_graph adds the investigator's routes to api.router
assert api_graph.router is api.router
