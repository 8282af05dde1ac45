"""e-Meterai as a step of the workflow: where a template offers one and the data asks for it,
the deployment's provider (``signing.emeterai``) affixes it into the box the document was
prepared with, after the signatures before its role and before that role signs.

    rules.py     when it is due, who waits for it, the refusal where no provider is configured
    service.py   affixing it (automatically when its turn comes, or again by the operator)
    schemas.py   how documents and the public verification show it

Its route, POST /api/v1/documents/{id}/emeterai (the operator's retry), is among the
documents' routes.
"""
