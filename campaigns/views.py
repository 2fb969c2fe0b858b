"""REST endpoints of campaigns (docs/reference/rest.md#campaigns). Thin: the work and the
events are in campaigns.services."""

from ninja import Router

router = Router(tags=["campaigns"])
