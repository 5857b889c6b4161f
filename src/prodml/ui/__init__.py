"""The dashboard: an ASGI app (``prodml ui``) of server-rendered pages over the SDK.

Adding a page: create a module in :mod:`prodml.ui.views` (named for its concept)
that defines

- ``ROUTES``: a list of Starlette routes whose handlers read through
  :mod:`prodml.sdk` only (``pages.client_of(request)`` gives the client), and
- ``NAV``: ``(label, path, order)`` to appear in the top navigation, or ``None``;

and templates under ``templates/<concept>/`` that extend ``base.html``. The app
finds view modules by itself. Charts are Vega-Lite specs built in Python and
placed with ``{{ chart(spec) }}``; htmx attributes make parts live
(``hx-get`` + ``hx-trigger="every 2s"``). Handlers that change state take the
acting client from :func:`prodml.ui.session.acting_client`, which refuses in
read-only mode, checks the CSRF token and the role of the logged-in token.
"""
