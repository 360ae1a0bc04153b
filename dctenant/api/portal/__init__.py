"""The web portal: server-rendered pages for messengers, staff and auditors, served by ``dctenant serve``.

It lives in the API layer because it is another front end of the same use-cases
(``ops.selfservice_usecases``), with the same tokens, roles and database; only the way a user
proves who they are differs (a session cookie instead of a bearer header). See docs/portal.md.
"""
