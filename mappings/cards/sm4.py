"""SM4 in ECB mode on whole 16-byte blocks, as the EHC specification uses it (no padding scheme)."""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK_SIZE = 16
KEY_SIZE = 16


def zero_pad(data: bytes) -> bytes:
    """Append zero bytes up to a whole number of blocks (nothing if already whole)."""
    return data + bytes(-len(data) % BLOCK_SIZE)


# ECB is what the EHC specification prescribes (single blocks of key material and IDs); it is not
# a choice to copy for new designs.
def sm4_ecb_encrypt(key: bytes, plaintext: bytes) -> bytes:
    _check(key, plaintext)
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305 - the spec's mode
    return encryptor.update(plaintext) + encryptor.finalize()


def sm4_ecb_decrypt(key: bytes, ciphertext: bytes) -> bytes:
    _check(key, ciphertext)
    decryptor = Cipher(algorithms.SM4(key), modes.ECB()).decryptor()  # noqa: S305 - the spec's mode
    return decryptor.update(ciphertext) + decryptor.finalize()


def _check(key: bytes, data: bytes) -> None:
    # A wrong key length is a configuration error, not bad input: plain ValueError.
    if len(key) != KEY_SIZE:
        raise ValueError(f"an SM4 key is {KEY_SIZE} bytes, got {len(key)}")
    if not data or len(data) % BLOCK_SIZE:
        raise ValueError(f"SM4-ECB works on whole {BLOCK_SIZE}-byte blocks")
