"""Report locations as links a person can click.

A report written to a local path becomes a ``file://`` URL. A report in S3 is an ``s3://``
URI, which no browser opens; the policy's ``storage.report_links`` says what to show
instead:

- ``url_template``: a browsable URL of the object store's console or a static site in front
  of the bucket, e.g. ``https://minio.example.com/browser/{bucket}/{key}`` (``{key}`` is
  URL-quoted, ``/`` kept);
- ``presign_seconds``: a pre-signed HTTPS GET URL, valid that many seconds (signed with the
  credentials that wrote the report). Off by default: whoever holds the link can read the
  report until it expires.

Without either, the ``s3://`` URI is shown as it is. Making a link never fails a gate or a
report: when signing is impossible (no credentials), the ``s3://`` URI is used.

Example:
    >>> from mlsec_gates.reports.links import clickable
    >>> clickable("s3://ml/reports/run-1/scan-report.html",
    ...           url_template="https://console.example/{bucket}/{key}")
    'https://console.example/ml/reports/run-1/scan-report.html'
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from mlsec_gates.policy import Policy
    from mlsec_gates.storage import Storage

__all__ = ["clickable", "policy_link"]

_log = logging.getLogger(__name__)


def clickable(
    location: str,
    *,
    url_template: str | None = None,
    presign_seconds: int = 0,
    storage: Storage | None = None,
) -> str:
    """A URL a browser opens for a report location (path, ``file://`` or ``s3://`` URI).

    Returns:
        ``file://`` for a local path; for ``s3://``, the templated URL, else a pre-signed
        URL when ``presign_seconds`` > 0, else the URI unchanged. Anything else unchanged.
    """
    if not location:
        return location
    if location.startswith("s3://"):
        from mlsec_gates.storage import Storage, split_s3_uri

        bucket, key = split_s3_uri(location)
        if url_template:
            return url_template.format(bucket=bucket, key=quote(key, safe="/"))
        if presign_seconds > 0:
            try:
                return (storage or Storage()).presigned_url(location, presign_seconds)
            except Exception as exc:  # observability never decides: fall back to the URI
                _log.warning("cannot pre-sign %s (%s): showing the s3:// URI", location, exc)
        return location
    if "://" in location:
        return location
    return Path(location).resolve().as_uri()


def policy_link(location: str, policy: Policy | None, storage: Storage | None = None) -> str:
    """:func:`clickable` with the policy's ``storage.report_links`` settings."""
    links = policy.storage.report_links if policy is not None else None
    return clickable(
        location,
        url_template=links.url_template if links else None,
        presign_seconds=links.presign_seconds if links else 0,
        storage=storage,
    )
