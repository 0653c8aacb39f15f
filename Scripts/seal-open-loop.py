#!/usr/bin/env python3
"""Reference for `keyholder list`: N crypto_box_seal_open calls of one key, through libsodium
itself (ctypes, no other dependency). Prints the seconds the N opens took."""
import ctypes
import ctypes.util
import sys
import time

count = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
assert sodium.sodium_init() >= 0
pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(32)
sodium.crypto_box_keypair(pk, sk)
message = ctypes.create_string_buffer(32)
sealed = ctypes.create_string_buffer(32 + 48)
sodium.crypto_box_seal(sealed, message, ctypes.c_ulonglong(32), pk)
opened = ctypes.create_string_buffer(32)
start = time.perf_counter()
for _ in range(count):
    if sodium.crypto_box_seal_open(opened, sealed, ctypes.c_ulonglong(80), pk, sk) != 0:
        sys.exit("seal_open failed")
print(f"{time.perf_counter() - start:.4f}")
