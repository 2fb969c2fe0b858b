"""Signed download links (docs/exports.md "Links and expiry").

A link names one export of one workspace and the time it was handed out; it is
accepted for EXPORT_LINK_TTL_SECONDS, by a caller of that workspace only (the
download endpoint authenticates first; a caller of another workspace finds no
such export: 404). A link whose signature or export does not match is 403
`invalid_download_link`, an old one 410 `download_link_expired`."""

from django.conf import settings
from django.core import signing

from project.errors import Forbidden, Gone

SALT = "callboard.exports.download"


def download_path(export) -> str:
    token = signing.dumps({"export": str(export.pk), "workspace": str(export.workspace_id)}, salt=SALT,
                          compress=True)
    return f"/api/v1/exports/{export.pk}/download?token={token}"


def check_token(export, token: str) -> None:
    try:
        claims = signing.loads(token, salt=SALT, max_age=settings.EXPORT_LINK_TTL_SECONDS)
    except signing.SignatureExpired:
        raise Gone("This download link has expired; get a fresh one from GET /exports/{id}.",
                   code="download_link_expired") from None
    except signing.BadSignature:
        claims = None
    if (not isinstance(claims, dict) or claims.get("export") != str(export.pk)
            or claims.get("workspace") != str(export.workspace_id)):
        raise Forbidden("This download link is not valid.", code="invalid_download_link")
