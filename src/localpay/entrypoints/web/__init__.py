"""The web pages: server-rendered Jinja2 with htmx, Korean first (Babel catalogs).

`app.install` adds them to the HTTP app under `/` (the API stays under `/v1`). Pages read
and write through the services, as the API does; they never import the API. The citizen's
wallet signs its commands in the browser and sends them to the API itself, as any client.
"""
