import { decodeNpy, float16ToFloat32, StreamsError, typedArrayFrom } from '@streams/core';
import { DTYPE_BYTES, type DType, shapeSize, type Tensor } from './tensor.js';

function bad(
  what: string,
  fix: string,
  code: 'STREAMS_DECODE_FAILED' | 'STREAMS_UNSUPPORTED_ENCODING' = 'STREAMS_DECODE_FAILED',
): StreamsError {
  return new StreamsError(code, `[streams/transforms] ${what}`, { fix });
}

export { decodeNpy, float16ToFloat32, typedArrayFrom };

const SAFETENSORS_DTYPES: Record<string, DType | 'bfloat16'> = {
  BOOL: 'bool',
  U8: 'uint8',
  I8: 'int8',
  U16: 'uint16',
  I16: 'int16',
  F16: 'float16',
  BF16: 'bfloat16',
  U32: 'uint32',
  I32: 'int32',
  F32: 'float32',
  U64: 'uint64',
  I64: 'int64',
  F64: 'float64',
};

/** A `.safetensors` file: its tensors by name and the optional string metadata. */
export interface SafetensorsFile {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

/**
 * Decodes a `.safetensors` file (8-byte little-endian header length, JSON header, raw data).
 * BF16 and F16 widen to Float32Array (dtype `float32` resp. `float16`); the rest are views.
 */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.byteLength < 8)
    throw bad('.safetensors file is shorter than its header length', 're-create the file');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (8 + n > bytes.byteLength) throw bad('.safetensors header is truncated', 're-create the file');
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<
      string,
      unknown
    >;
  } catch (cause) {
    throw new StreamsError(
      'STREAMS_DECODE_FAILED',
      '[streams/transforms] .safetensors header is not JSON',
      { cause },
    );
  }
  const data = bytes.subarray(8 + n);
  const tensors: Record<string, Tensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const dtype = SAFETENSORS_DTYPES[e.dtype ?? ''];
    if (!dtype || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) {
      throw bad(
        `.safetensors tensor ${name} has dtype ${e.dtype} or a malformed entry`,
        'use a numeric dtype',
        'STREAMS_UNSUPPORTED_ENCODING',
      );
    }
    const [b, end] = e.data_offsets;
    const count = shapeSize(e.shape);
    const size = dtype === 'bfloat16' ? 2 : DTYPE_BYTES[dtype];
    if (end - b !== count * size || end > data.byteLength) {
      throw bad(
        `.safetensors tensor ${name}: offsets [${b}, ${end}) do not match shape ${JSON.stringify(e.shape)}`,
        're-create the file',
      );
    }
    tensors[name] = {
      data: typedArrayFrom(data.subarray(b, end), dtype, count),
      shape: e.shape,
      dtype: dtype === 'bfloat16' ? 'float32' : dtype,
    };
  }
  return { tensors, metadata };
}

const MDS_VALUE_DTYPES: Record<number, DType> = {
  8: 'uint8',
  9: 'int8',
  16: 'uint16',
  17: 'int16',
  18: 'float16',
  32: 'uint32',
  33: 'int32',
  34: 'float32',
  64: 'uint64',
  65: 'int64',
  66: 'float64',
};

/**
 * Decodes one MDS `ndarray` column value (MosaicML streaming's encoding) given the column's
 * encoding string: `ndarray` (dtype and shape in the bytes), `ndarray:float32` (shape in the
 * bytes) or `ndarray:float32:4,64,64` (raw values).
 */
export function decodeMdsNdarray(bytes: Uint8Array, encoding = 'ndarray'): Tensor {
  const [name, dt, sh] = encoding.split(':');
  if (name !== 'ndarray') {
    throw bad(
      `MDS encoding ${encoding} is not an ndarray encoding`,
      'use decodeMdsNdarray for ndarray columns only',
      'STREAMS_UNSUPPORTED_ENCODING',
    );
  }
  let i = 0;
  let dtype: DType;
  if (dt) {
    if (!Object.values(MDS_VALUE_DTYPES).includes(dt as DType)) {
      throw bad(
        `MDS ndarray dtype ${dt} is not supported`,
        'use a numeric dtype',
        'STREAMS_UNSUPPORTED_ENCODING',
      );
    }
    dtype = dt as DType;
  } else {
    const code = bytes[i++];
    const d = code === undefined ? undefined : MDS_VALUE_DTYPES[code];
    if (!d)
      throw bad(
        `MDS ndarray has an unknown dtype code ${code}`,
        'check the column encoding in index.json',
      );
    dtype = d;
  }
  let shape: number[];
  if (sh) shape = sh.split(',').map(Number);
  else {
    const byte = bytes[i++];
    if (byte === undefined) throw bad('MDS ndarray value is truncated', 're-create the shard');
    const ndim = byte >> 2;
    const width = 2 ** (byte & 3);
    if (i + ndim * width > bytes.byteLength)
      throw bad('MDS ndarray shape is truncated', 're-create the shard');
    const dv = new DataView(bytes.buffer, bytes.byteOffset + i, ndim * width);
    shape = [];
    for (let k = 0; k < ndim; k++) {
      const o = k * width;
      shape.push(
        width === 1
          ? dv.getUint8(o)
          : width === 2
            ? dv.getUint16(o, true)
            : width === 4
              ? dv.getUint32(o, true)
              : Number(dv.getBigUint64(o, true)),
      );
    }
    i += ndim * width;
  }
  const count = shapeSize(shape);
  if (bytes.byteLength - i !== count * DTYPE_BYTES[dtype]) {
    throw bad(
      `MDS ndarray holds ${bytes.byteLength - i} value bytes, expected ${count * DTYPE_BYTES[dtype]} for ${dtype} ${JSON.stringify(shape)}`,
      'check the column encoding in index.json against the data',
    );
  }
  return { data: typedArrayFrom(bytes.subarray(i), dtype, count), shape, dtype };
}

/**
 * Decodes tensor bytes of a sniffed format: `.npy` (magic `\x93NUMPY`), else `.safetensors`
 * (then `name` picks the tensor; default: the only one). For precomputed latents and embeddings.
 */
export function decodeTensorBytes(bytes: Uint8Array, options: { name?: string } = {}): Tensor {
  if (bytes.byteLength >= 6 && bytes[0] === 0x93 && bytes[1] === 0x4e && bytes[2] === 0x55)
    return decodeNpy(bytes);
  const file = decodeSafetensors(bytes);
  const names = Object.keys(file.tensors);
  const name = options.name ?? (names.length === 1 ? names[0] : undefined);
  const tensor = name === undefined ? undefined : file.tensors[name];
  if (!tensor) {
    throw bad(
      `.safetensors file has tensors ${names.join(', ') || '(none)'}; ${options.name ? `no ${options.name}` : 'pick one by name'}`,
      'pass { name } to choose the tensor',
    );
  }
  return tensor;
}
