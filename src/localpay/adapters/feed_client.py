"""The witness's HTTP clients (httpx): the server's chain feed, and its peers' health servers.

They implement services/witness/ports.FeedTransport and PeerTransport: every answer is
`(status, body)`, and a server that cannot be reached is status 0 with the reason as
the body, so the witness's services never see an httpx exception.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx


def _unreachable(exc: httpx.HTTPError) -> tuple[int, bytes]:
    return 0, f"{type(exc).__name__}: {exc}".encode()


class FeedClient:
    """GET /v1/cities/{city}/feed and POST .../checkpoints/{size}/cosignatures."""

    def __init__(
        self,
        base_url: str,
        city: str,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.city = city
        self.http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)

    def get_page(
        self, from_height: int, limit: int, headers: Mapping[str, str]
    ) -> tuple[int, bytes]:
        try:
            response = self.http.get(
                f"/v1/cities/{self.city}/feed",
                params={"from_height": from_height, "limit": limit},
                headers=dict(headers),
            )
        except httpx.HTTPError as exc:
            return _unreachable(exc)
        return response.status_code, response.content

    def post_cosignature(self, size: int, line: str) -> tuple[int, bytes]:
        try:
            response = self.http.post(
                f"/v1/cities/{self.city}/checkpoints/{size}/cosignatures",
                json={"line": line.removesuffix("\n")},
            )
        except httpx.HTTPError as exc:
            return _unreachable(exc)
        return response.status_code, response.content

    def close(self) -> None:
        self.http.close()


class PeerClient:
    """GET <peer>/checkpoint on other witnesses' health servers (gossip)."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.http = httpx.Client(timeout=timeout)

    def newest_checkpoint(self, peer: str) -> tuple[int, bytes]:
        try:
            response = self.http.get(f"{peer.rstrip('/')}/checkpoint")
        except httpx.HTTPError as exc:
            return _unreachable(exc)
        return response.status_code, response.content

    def close(self) -> None:
        self.http.close()
