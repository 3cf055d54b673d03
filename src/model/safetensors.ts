// The safetensors container (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__:
// {string: string}}, then the raw little-endian data. We read and write float32 (F32) only.
// Validation follows the reference Rust reader: offsets in range, no overlaps, no holes.
import { CheckpointDTypeError, CheckpointFormatError } from './errors.ts'

export interface SafeTensor {
  shape: readonly number[]
  data: Float32Array
}

export interface SafetensorsFile {
  /** in file order (data_offsets ascending) */
  tensors: Map<string, SafeTensor>
  metadata: Record<string, string>
}

/** The Rust reader's limit: headers beyond it are hostile or broken. */
export const MAX_HEADER_BYTES = 100_000_000

const METADATA_KEY = '__metadata__'

/** Writes tensors in the order given; the header is space-padded so data starts 8-byte aligned. */
export function encodeSafetensors (tensors: Iterable<[string, SafeTensor]>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {}
  if (Object.keys(metadata).length > 0) header[METADATA_KEY] = metadata
  const list: SafeTensor[] = []
  let offset = 0
  for (const [name, t] of tensors) {
    if (name === METADATA_KEY) throw new CheckpointFormatError(`"${METADATA_KEY}" is not a tensor name`)
    if (name in header) throw new CheckpointFormatError(`tensor "${name}" given twice`)
    const n = t.shape.reduce((a, b) => a * b, 1)
    if (n !== t.data.length) throw new CheckpointFormatError(`tensor "${name}": shape [${t.shape.join(', ')}] needs ${n} elements, data has ${t.data.length}`)
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + 4 * n] }
    offset += 4 * n
    list.push(t)
  }
  let json = new TextEncoder().encode(JSON.stringify(header))
  const padded = Math.ceil(json.length / 8) * 8
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20)
    p.set(json)
    json = p
  }
  const out = new Uint8Array(8 + json.length + offset)
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true)
  out.set(json, 8)
  let at = 8 + json.length
  for (const t of list) {
    // Byte copy: keeps every bit (NaN payloads included). Hosts are little-endian (all WebGPU targets).
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at)
    at += t.data.byteLength
  }
  return out
}

interface Entry { name: string, dtype: string, shape: number[], begin: number, end: number }

/** One tensor's header entry, any dtype (for listing every problem of a file before reading it). */
export interface SafetensorsEntry { name: string, dtype: string, shape: number[] }

/** The checked header: every entry (any dtype) and the metadata. Throws on a malformed file. */
export function readSafetensorsHeader (bytes: Uint8Array): { entries: SafetensorsEntry[], metadata: Record<string, string> } {
  const { entries, metadata } = parseFile(bytes)
  return { entries: entries.map(e => ({ name: e.name, dtype: e.dtype, shape: e.shape })), metadata }
}

export function decodeSafetensors (bytes: Uint8Array): SafetensorsFile {
  const { entries, metadata, base } = parseFile(bytes)
  const tensors = new Map<string, SafeTensor>()
  for (const e of entries) {
    if (e.dtype !== 'F32') throw new CheckpointDTypeError(`tensor "${e.name}" has dtype ${e.dtype}; only F32 is supported`)
    // slice() copies into a fresh, 4-byte-aligned buffer: data offsets need not be aligned.
    tensors.set(e.name, { shape: e.shape, data: new Float32Array(bytes.slice(base + e.begin, base + e.end).buffer) })
  }
  return { tensors, metadata }
}

function parseFile (bytes: Uint8Array): { entries: Entry[], metadata: Record<string, string>, base: number } {
  if (bytes.length < 8) throw new CheckpointFormatError(`truncated file: ${bytes.length} bytes, the header length alone needs 8`)
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true)
  if (n > BigInt(MAX_HEADER_BYTES)) throw new CheckpointFormatError(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`)
  const headerBytes = Number(n)
  if (8 + headerBytes > bytes.length) throw new CheckpointFormatError(`truncated file: header needs ${headerBytes} bytes, only ${bytes.length - 8} follow`)
  let header: unknown
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerBytes)))
  } catch (e) {
    throw new CheckpointFormatError(`header is not valid UTF-8 JSON: ${(e as Error).message}`)
  }
  if (typeof header !== 'object' || header == null || Array.isArray(header)) throw new CheckpointFormatError('header JSON must be an object')

  const metadata: Record<string, string> = {}
  const entries: Entry[] = []
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (typeof value !== 'object' || value == null || Array.isArray(value)) throw new CheckpointFormatError(`${METADATA_KEY} must be an object of strings`)
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw new CheckpointFormatError(`${METADATA_KEY}.${k} must be a string`)
        metadata[k] = v
      }
      continue
    }
    entries.push(parseEntry(name, value))
  }

  const dataLength = bytes.length - 8 - headerBytes
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end)
  let expected = 0
  for (const e of entries) {
    if (e.end > dataLength) throw new CheckpointFormatError(`tensor "${e.name}": data_offsets [${e.begin}, ${e.end}] run past the ${dataLength} data bytes (truncated file?)`)
    if (e.begin < expected) throw new CheckpointFormatError(`tensor "${e.name}": data_offsets [${e.begin}, ${e.end}] overlap the previous tensor, which ends at ${expected}`)
    if (e.begin > expected) throw new CheckpointFormatError(`tensor "${e.name}": data_offsets start at ${e.begin}, leaving a hole after byte ${expected}`)
    expected = e.end
  }
  if (expected !== dataLength) throw new CheckpointFormatError(`${dataLength - expected} bytes after the last tensor belong to no tensor`)
  return { entries, metadata, base: 8 + headerBytes }
}

const DTYPE_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1 }

function parseEntry (name: string, value: unknown): Entry {
  if (typeof value !== 'object' || value == null || Array.isArray(value)) throw new CheckpointFormatError(`tensor "${name}": header entry must be an object`)
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>
  if (typeof dtype !== 'string') throw new CheckpointFormatError(`tensor "${name}": dtype must be a string`)
  if (!Array.isArray(shape) || !shape.every(d => Number.isSafeInteger(d) && d >= 0)) throw new CheckpointFormatError(`tensor "${name}": shape must be an array of non-negative integers`)
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(o => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
    throw new CheckpointFormatError(`tensor "${name}": data_offsets must be [begin, end] with 0 ≤ begin ≤ end`)
  }
  const width = DTYPE_BYTES[dtype]
  const elements = (shape as number[]).reduce((a, b) => a * b, 1)
  if (width != null && offsets[1] - offsets[0] !== elements * width) {
    throw new CheckpointFormatError(`tensor "${name}": data_offsets span ${offsets[1] - offsets[0]} bytes, ${dtype} [${shape.join(', ')}] needs ${elements * width}`)
  }
  return { name, dtype, shape: shape as number[], begin: offsets[0], end: offsets[1] }
}
