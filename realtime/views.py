"""HTTP surface of the realtime engine."""

from django.http import HttpRequest, JsonResponse
from ninja import Router

from realtime.docs import asyncapi_document

router = Router(tags=["events"])


@router.get("/asyncapi.json", auth=None, include_in_schema=False)
def asyncapi(request: HttpRequest):
    """The AsyncAPI 3 document of the event streams."""
    return JsonResponse(asyncapi_document())
