"""``framelab serve``: saved models scoring articles over HTTP, with a browser page.

- :mod:`framelab.serve.schema`: the HTTP schema, declared once as pydantic models: what a client sends
  and what each endpoint answers;
- :mod:`framelab.serve.requests`: the JSON a client sends, validated with those models into articles;
- :mod:`framelab.serve.batcher`: one queue per worker process; requests arriving within a few
  milliseconds share a forward pass, a full queue answers 503;
- :mod:`framelab.serve.render`: the HTML view, drawn by the HTML writer of ``framelab score`` in memory;
- :mod:`framelab.serve.app`: the Starlette application (routes, bearer token, body limit, headers);
- :mod:`framelab.serve.openapi`: the OpenAPI document served at ``/openapi.json``, generated from the models;
- :mod:`framelab.serve.docs`: that document drawn as the ``/docs`` page (``templates/docs.html.j2``);
- ``static/``: the page's HTML, script and style, served by the app (no build step, no external asset).

Starlette and uvicorn come with the ``serve`` extra (``pip install 'framelab[serve]'``).
"""
