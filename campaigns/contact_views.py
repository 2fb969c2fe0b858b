"""REST endpoints of a campaign's contacts and of the suppression list
(docs/reference/rest.md#contacts, docs/reference/rest.md#suppression-list)."""

from ninja import Router

router = Router(tags=["contacts"])
