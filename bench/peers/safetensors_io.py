"""Reads safetensors files with numpy alone: an 8-byte little-endian header length, a JSON header
naming each tensor's dtype, shape and byte range, then the raw little-endian data."""
import json
import struct

import numpy as np

_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}


class SafetensorsError(Exception):
    pass


def read_safetensors(path):
    """Every tensor of the file by name, as numpy arrays (bf16 widened to float32). Large files
    are memory-mapped, so reading a checkpoint costs no copy until a tensor is used."""
    try:
        with open(path, "rb") as file:
            prefix = file.read(8)
            if len(prefix) != 8:
                raise SafetensorsError(f"{path}: shorter than the 8-byte header length")
            (header_length,) = struct.unpack("<Q", prefix)
            if header_length > 100 << 20:
                raise SafetensorsError(f"{path}: header of {header_length} bytes is larger than 100 MiB")
            header = json.loads(file.read(header_length))
    except OSError as error:
        raise SafetensorsError(f"{path}: cannot read the file: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise SafetensorsError(f"{path}: the header is not valid JSON: {error}") from None
    data_start = 8 + header_length
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype_name = entry.get("dtype")
        shape = [int(d) for d in entry.get("shape", [])]
        begin, end = (int(o) for o in entry.get("data_offsets", [0, 0]))
        if not 0 <= begin <= end or data_start + end > raw.size:
            raise SafetensorsError(f"{path}: tensor '{name}' has data offsets {begin}..{end} outside the file")
        chunk = raw[data_start + begin : data_start + end]
        count = int(np.prod(shape, dtype=np.int64))
        if dtype_name == "BF16":
            if chunk.size != 2 * count:
                raise SafetensorsError(f"{path}: tensor '{name}' has {chunk.size} bytes for shape {shape} in BF16")
            bits = chunk.view("<u2").astype(np.uint32) << 16
            tensors[name] = bits.view(np.float32).reshape(shape)
            continue
        dtype = _DTYPES.get(dtype_name)
        if dtype is None:
            raise SafetensorsError(f"{path}: tensor '{name}' has dtype {dtype_name}, not one this reader knows")
        if chunk.size != dtype.itemsize * count:
            raise SafetensorsError(f"{path}: tensor '{name}' has {chunk.size} bytes for shape {shape} in {dtype_name}")
        tensors[name] = chunk.view(dtype).reshape(shape)
    return tensors
