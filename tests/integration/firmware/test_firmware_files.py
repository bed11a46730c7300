"""Firmware files: uploads through REST (streamed into PostgreSQL large objects, or a
directory) with their SHA-256 and signature checked, and downloads by chargers through
expiring signed URLs: 403 when expired or tampered with, Range requests answered 206 so a
broken download resumes (1.6 section 8.1; 2.0.1 L01.FR.08 recommends HTTPS in production).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from csms.domain.firmware_campaigns import NewArtifact
from csms.domain.firmware_urls import signed_url
from csms.errors import InvalidInput
from csms.services.firmware import ArtifactService
from csms.store.postgres import PostgresFirmware
from simulators.firmware import fetch, signature_verifies
from tests.integration.backoffice.conftest import Account, Backoffice
from tests.integration.firmware.conftest import (
    URL_SECRET,
    Upload,
    firmware_image,
    sign,
    signing_key,
)


def url(backoffice: Backoffice, artifact_id: int, name: str, cp: str, expires: int) -> str:
    return signed_url(
        backoffice.url,
        URL_SECRET,
        artifact_id=artifact_id,
        file_name=name,
        charge_point_id=cp,
        expires=expires,
    )


async def test_signed_urls_ranges_and_resumes(
    backoffice: Backoffice, client: httpx.AsyncClient, upload: Upload
) -> None:
    model = f"DL-{secrets.token_hex(3)}"
    artifact = await upload("4.0.0", model=model)
    data = artifact.data
    name = "fw-4.0.0.bin"
    later = int(time.time()) + 600
    good = url(backoffice, artifact.id, name, "CP-1", later)

    whole = await client.get(good)
    assert whole.status_code == 200
    assert whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["x-firmware-version"] == "4.0.0"
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert whole.headers["repr-digest"] == f"sha-256=:{digest}:"

    part = await client.get(good, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.content == data[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    rest = await client.get(
        good, headers={"Range": "bytes=1000-", "If-Range": whole.headers["etag"]}
    )
    assert rest.status_code == 206 and rest.content == data[1000:]
    tail = await client.get(good, headers={"Range": "bytes=-10"})
    assert tail.content == data[-10:]
    stale = await client.get(good, headers={"Range": "bytes=10-", "If-Range": '"other"'})
    assert stale.status_code == 200 and stale.content == data
    past = await client.get(good, headers={"Range": f"bytes={len(data)}-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{len(data)}"
    head = await client.head(good)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))

    # expired, or any part of the URL changed: 403, the file never sent
    expired = url(backoffice, artifact.id, name, "CP-1", int(time.time()) - 1)
    signature = good.rpartition("sig=")[2]
    tampered = [
        expired,
        good.replace("cp=CP-1", "cp=CP-2"),
        good.replace(f"exp={later}", f"exp={later + 3600}"),
        good.replace(f"/firmware/{artifact.id}/", f"/firmware/{artifact.id + 1}/"),
        good.replace(signature, "0" * 64),
        good.partition("?")[0],
        good.replace(f"exp={later}", "exp=soon"),
    ]
    for bad in tampered:
        response = await client.get(bad)
        assert response.status_code == 403, bad
        assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(good.replace(name, "other.bin"))).status_code == 404

    # a charger's download that breaks off resumes where it stopped (simulators.firmware)
    fetched = await fetch(good)
    assert fetched.ok and fetched.size == len(data) and fetched.version == "4.0.0"
    assert fetched.digest == hashlib.sha256(data).digest()
    refused = await fetch(expired)
    assert not refused.ok and refused.reason == "HTTP 403"


async def test_a_download_cut_midway_resumes_with_a_range(
    backoffice: Backoffice, upload: Upload
) -> None:
    """Cut the connection after 64 KiB: the simulator asks for the rest (Range) and ends with
    the whole file, its SHA-256 matching the server's Repr-Digest."""
    artifact = await upload(
        "4.1.0", model=f"CUT-{secrets.token_hex(3)}", data=firmware_image("4.1.0", 500_000)
    )
    good = url(backoffice, artifact.id, "fw-4.1.0.bin", "CP-1", int(time.time()) + 600)
    upstream = httpx.URL(backoffice.url)
    ranges: list[str | None] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        lines = [line for line in head.split("\r\n") if line]
        wanted = [ln.partition(":")[2].strip() for ln in lines if ln.lower().startswith("range:")]
        ranges.append(wanted[0] if wanted else None)
        kept = [line for line in lines if not line.lower().startswith("connection:")]
        request = ("\r\n".join([*kept, "Connection: close"]) + "\r\n\r\n").encode()
        up_reader, up_writer = await asyncio.open_connection(upstream.host, upstream.port)
        up_writer.write(request)
        await up_writer.drain()
        sent = 0
        first = len(ranges) == 1
        while chunk := await up_reader.read(16384):
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
            if first and sent > 65536:
                break  # the network cuts the first download off
        up_writer.close()
        await up_writer.wait_closed()
        if first:
            writer.transport.abort()
        else:
            writer.close()
            await writer.wait_closed()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        fetched = await fetch(good.replace(str(upstream.port), str(port), 1), retries=2)
    finally:
        server.close()
        await server.wait_closed()
    assert fetched.ok, fetched.reason
    assert fetched.size == len(artifact.data)
    assert fetched.digest == hashlib.sha256(artifact.data).digest()
    assert ranges[0] is None and ranges[1] is not None and ranges[1].startswith("bytes=")


async def test_uploads_refused_keep_nothing(
    client: httpx.AsyncClient, operator: Account, pool: asyncpg.Pool, upload: Upload
) -> None:
    model = f"UP-{secrets.token_hex(3)}"
    image = firmware_image("5.0.0")
    before = await pool.fetchval("SELECT count(*) FROM pg_largeobject_metadata")

    async def post(data: dict[str, str], files: dict[str, tuple[str, bytes]]) -> httpx.Response:
        return await client.post(
            "/api/v1/firmware/artifacts", headers=operator.headers, data=data, files=files
        )

    wrong = await post(
        {"version": "5.0.0", "model": model, "sha256": "0" * 64}, {"file": ("fw.bin", image)}
    )
    assert wrong.status_code == 422
    assert f"sha256: the file's is {hashlib.sha256(image).hexdigest()}" in wrong.json()["detail"]
    too_big = await post(
        {"version": "5.0.1", "model": model}, {"file": ("fw.bin", b"x" * (3 * 1024 * 1024))}
    )
    assert too_big.status_code == 413
    no_version = await post({"model": model}, {"file": ("fw.bin", image)})
    assert no_version.status_code == 422 and "version is required" in no_version.json()["detail"]
    key, certificate = signing_key("rsa")
    other_key, _ = signing_key("rsa")
    forged = await post(
        {"version": "5.0.2", "model": model, "signature": sign(other_key, image)},
        {"file": ("fw.bin", image), "signing_certificate": ("cert.pem", certificate.encode())},
    )
    assert forged.status_code == 422
    assert "does not verify" in forged.json()["detail"]
    half = await post(
        {"version": "5.0.3", "model": model, "signature": sign(key, image)},
        {"file": ("fw.bin", image)},
    )
    assert half.status_code == 422 and "both or neither" in half.json()["detail"]
    assert (
        await pool.fetchval("SELECT count(*) FROM firmware_artifacts WHERE model = $1", model) == 0
    )
    assert await pool.fetchval("SELECT count(*) FROM pg_largeobject_metadata") == before

    # a good one, signed; the same version again is refused
    signed = await post(
        {
            "version": "5.0.4",
            "model": model,
            "vendor": "SimVendor",
            "sha256": hashlib.sha256(image).hexdigest().upper(),
            "signature": sign(key, image),
        },
        {"file": ("fw.bin", image), "signing_certificate": ("cert.pem", certificate.encode())},
    )
    assert signed.status_code == 201, signed.text
    assert signed.json()["signed"] is True and signed.json()["storage"] == "large_object"
    again = await post(
        {"version": "5.0.4", "model": model, "vendor": "SimVendor"}, {"file": ("fw.bin", image)}
    )
    assert again.status_code == 422 and "uploaded already" in again.json()["detail"]
    removed = await client.delete(
        f"/api/v1/firmware/artifacts/{signed.json()['id']}", headers=operator.headers
    )
    assert removed.status_code == 204
    assert await pool.fetchval("SELECT count(*) FROM pg_largeobject_metadata") == before


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_signatures_verify_as_a_charger_checks_them(kind: str) -> None:
    """L01.FR.04/L01.FR.12: the simulator verifies the signature over the SHA-256 with the
    signing certificate."""
    key, certificate = signing_key(kind)
    image = firmware_image("6.0.0", 1000)
    signature = sign(key, image)
    digest = hashlib.sha256(image).digest()
    assert signature_verifies(certificate, signature, digest)
    assert not signature_verifies(certificate, signature, hashlib.sha256(b"other").digest())


async def test_a_firmware_directory_instead_of_large_objects(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """CSMS_FIRMWARE_DIR: the file goes to the directory, streamed; a refused upload leaves
    no file behind."""
    store = PostgresFirmware(pool, directory=tmp_path)
    service = ArtifactService(store, max_bytes=1_000_000)
    image = firmware_image("7.0.0", 300_000)
    model = f"DIR-{secrets.token_hex(3)}"

    async def chunks(data: bytes) -> AsyncIterator[bytes]:
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]

    with pytest.raises(InvalidInput, match="sha256"):
        await service.upload(
            NewArtifact("7.0.0", "fw.bin", model=model, sha256="1" * 64), chunks(image)
        )
    assert list(tmp_path.iterdir()) == []
    artifact = await service.upload(NewArtifact("7.0.0", "fw.bin", model=model), chunks(image))
    assert artifact.storage == "directory" and artifact.size_bytes == len(image)
    [stored] = list(tmp_path.iterdir())
    assert stored.read_bytes() == image
    got = b"".join([c async for c in service.read(artifact.id, 100, 200_000)])
    assert got == image[100:200_100]
    await service.remove(artifact.id)
    assert list(tmp_path.iterdir()) == []
