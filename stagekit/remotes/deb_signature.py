"""Checking a Debian Release's OpenPGP signature against the user's keyring, as apt does.

The check is done by ``gpgv`` (Debian package ``gpgv``, which apt itself depends on and
uses for the same job) in a throw-away home directory, so no user keyring or agent is
read or changed. ``InRelease`` is verified as a clearsigned message and only the text
gpgv reports as signed is returned (nothing outside the signature is ever parsed);
``Release`` needs its detached ``Release.gpg``. A signature is accepted when gpgv exits
0 and reports at least one good, valid signature made with a strong hash, and no bad,
expired or revoked one. Keyrings may be binary (``.gpg``) or ASCII-armored (``.asc``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from stagekit.errors import DownloadError, SignatureError
from stagekit.urls import redact_url

__all__ = [
    "SIGNED_TEXT",
    "UNVERIFIED",
    "SignedRelease",
    "check_keyring",
    "check_release",
    "verify_release",
]

log = logging.getLogger(__name__)

UNVERIFIED = "unverified"
SIGNED_TEXT = "signed_release"  # extra_data key of a release unit: the verified text
GPGV_TIMEOUT = 60.0
# OpenPGP hash algorithm ids apt refuses for Release signatures: MD5, SHA-1, RIPEMD-160.
_WEAK_HASHES = {"1", "2", "3"}
_REFUSED = ("BADSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG")
_ARMOR_BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
_CLEARSIGN_MARKERS = ("-----BEGIN PGP SIGNED MESSAGE-----", "-----BEGIN PGP SIGNATURE-----",
                      "-----END PGP SIGNATURE-----")


@dataclass(frozen=True, slots=True)
class SignedRelease:
    """The Release text to parse, and who signed it (``UNVERIFIED`` without a keyring)."""

    text: bytes | None  # None: not checked, parse the file as downloaded
    signed_by: str

    @property
    def signature(self) -> str:
        """What the release unit records: ``"unverified"`` or ``"verified:<fingerprint>"``."""
        return self.signed_by if self.signed_by == UNVERIFIED else f"verified:{self.signed_by}"


def check_keyring(path: str | os.PathLike[str]) -> Path:
    """``path`` as an absolute Path; `SignatureError` unless it is a readable file."""
    keyring = Path(path).expanduser().absolute()
    if not keyring.is_file():
        raise SignatureError(f"keyring {keyring} does not exist or is not a file",
                             field="keyring")
    return keyring


def _keyring_bytes(keyring: Path) -> bytes:
    """The keyring as binary OpenPGP packets (gpgv does not read ASCII armor)."""
    data = keyring.read_bytes()
    if _ARMOR_BEGIN.encode() not in data:
        return data
    packets = bytearray()
    inside = body = False
    for raw in data.decode("ascii", errors="replace").splitlines():
        line = raw.strip()
        if line == _ARMOR_BEGIN:
            inside, body = True, False
        elif line.startswith("-----END PGP PUBLIC KEY BLOCK"):
            inside = False
        elif inside and not body:
            body = line == ""  # armor headers end at the first empty line
        elif inside and not line.startswith("="):  # "=XXXX" is the CRC line
            try:
                packets += base64.b64decode(line, validate=True)
            except binascii.Error as exc:
                raise SignatureError(f"keyring {keyring} has bad ASCII armor: {exc}",
                                     field="keyring") from None
    if not packets:
        raise SignatureError(f"keyring {keyring} holds no key", field="keyring")
    return bytes(packets)


def _gpgv() -> str:
    found = shutil.which("gpgv")
    if found is None:
        raise SignatureError("checking Release signatures needs gpgv (install the Debian "
                             "package gpgv) or no keyring")
    return found


def _judge(status: str, returncode: int, stderr: str, where: str) -> str:
    """The signer's fingerprint if gpgv's status lines show an acceptable signature."""
    valid: list[str] = []
    refused: list[str] = []
    missing_key = False
    for line in status.splitlines():
        words = line.split()
        if len(words) < 2 or words[0] != "[GNUPG:]":
            continue
        keyword, args = words[1], words[2:]
        if keyword in _REFUSED:
            refused.append(keyword)
        elif keyword == "NO_PUBKEY":
            missing_key = True
        elif keyword == "VALIDSIG" and len(args) >= 8:
            if args[7] in _WEAK_HASHES:
                refused.append(f"weak hash algorithm {args[7]}")
            else:
                valid.append(args[9] if len(args) >= 10 else args[0])
    if refused:
        raise SignatureError(f"{where}: bad signature ({', '.join(refused)}); nothing it lists "
                             "is fetched", url=where)
    # Exit 0 is required too: one good signature beside an unknown one is not enough, or a
    # second message signed by anyone could ride along with a genuine one.
    if returncode == 0 and valid:
        return valid[0]
    if missing_key and not valid:
        raise SignatureError(f"{where}: signed by a key that is not in the keyring; nothing "
                             "it lists is fetched", url=where)
    detail = stderr.strip().splitlines()[-1] if stderr.strip() else f"gpgv exit {returncode}"
    raise SignatureError(f"{where}: no valid signature ({detail[:200]}); nothing it lists is "
                         "fetched", url=where)


def _check_clearsigned_shape(data: bytes, where: str) -> None:
    """One clearsigned message and nothing around it (apt refuses anything else)."""
    lines = [line.strip() for line in data.decode("utf-8", errors="replace").splitlines()]
    lines = [line for line in lines if line]
    counts = {marker: lines.count(marker) for marker in _CLEARSIGN_MARKERS}
    if (not lines or lines[0] != _CLEARSIGN_MARKERS[0] or lines[-1] != _CLEARSIGN_MARKERS[2]
            or set(counts.values()) != {1}):
        raise SignatureError(f"{where}: not exactly one clearsigned message (unsigned, or with "
                             "text outside the signature); nothing it lists is fetched",
                             url=where)


async def _run_gpgv(keyring: Path, args: list[str], work: Path, where: str) -> str:
    binary = _gpgv()
    ring = work / "keyring.gpg"
    ring.write_bytes(await asyncio.to_thread(_keyring_bytes, keyring))
    home = work / "home"
    home.mkdir(mode=0o700)
    command = [binary, "--homedir", str(home), "--status-fd", "1", "--keyring", str(ring), *args]
    proc = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={"LC_ALL": "C", "PATH": os.environ.get("PATH", "")})
    try:
        async with asyncio.timeout(GPGV_TIMEOUT):
            out, err = await proc.communicate()
    except TimeoutError:
        raise SignatureError(f"{where}: gpgv did not answer within {GPGV_TIMEOUT:.0f} s",
                             url=where) from None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    return _judge(out.decode(errors="replace"), proc.returncode or 0,
                  err.decode(errors="replace"), where)


async def verify_release(
    name: str,
    data: bytes,
    *,
    keyring: Path | None,
    where: str,
    signature: bytes | None = None,
) -> SignedRelease:
    """Check ``data`` (the file ``name``: ``InRelease`` or ``Release``) against ``keyring``.

    Without a keyring, ``data`` is returned as ``UNVERIFIED``. An ``InRelease`` yields
    the signed text only; a ``Release`` needs ``signature`` (its ``Release.gpg``), and
    None there is a missing signature. Raises `SignatureError` naming ``where``.
    """
    if keyring is None:
        return SignedRelease(data, UNVERIFIED)
    if name != "InRelease" and signature is None:
        raise SignatureError(f"{where}: no signature (Release.gpg missing); nothing it lists "
                             "is fetched", url=where)
    with tempfile.TemporaryDirectory(prefix="stagekit-gpgv-") as temp:
        work = Path(temp)
        signed = work / "release"
        signed.write_bytes(data)
        if name == "InRelease":
            text = work / "signed-text"
            _check_clearsigned_shape(data, where)
            fingerprint = await _run_gpgv(keyring, ["--output", str(text), str(signed)], work,
                                          where)
            return SignedRelease(text.read_bytes(), fingerprint)
        assert signature is not None
        detached = work / "release.gpg"
        detached.write_bytes(signature)
        fingerprint = await _run_gpgv(keyring, [str(detached), str(signed)], work, where)
        return SignedRelease(data, fingerprint)


async def check_release(
    name: str,
    url: str,
    path: Path,
    keyring: Path | None,
    get_bytes: Callable[[str], Awaitable[bytes]],
) -> SignedRelease:
    """Check the release file ``name`` fetched from ``url`` into ``path`` (DebRemote's hook).

    Without a keyring it warns (once per call: once per run) that the metadata is
    unverified. For ``Release`` the detached ``<url>.gpg`` is fetched with ``get_bytes``.
    Raises `SignatureError`; the caller then fails the release and fetches nothing else.
    """
    where = redact_url(url)
    if keyring is None:
        log.warning("%s: signature not checked (no keyring given): the archive's metadata "
                    "is unverified", where)
        return SignedRelease(None, UNVERIFIED)
    data = await asyncio.to_thread(path.read_bytes)
    signature = None
    if name != "InRelease":
        try:
            signature = await get_bytes(url + ".gpg")
        except DownloadError as exc:
            raise SignatureError(f"{where}: no signature ({where}.gpg: {exc}); nothing it lists "
                                 "is fetched", url=where) from exc
    return await verify_release(name, data, keyring=keyring, where=where, signature=signature)
