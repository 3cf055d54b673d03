// The identity codec: the payload is the float32 elements, little-endian, row-major.
import { CodecError } from './errors.ts'
import { elementsOf, type Codec } from './codec.ts'

export const fp32: Codec = {
  name: 'fp32',
  encodedBytes: shape => 4 * elementsOf(shape),
  encode: (data) => new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  decode (payload, shape) {
    const n = elementsOf(shape)
    if (payload.byteLength !== 4 * n) throw new CodecError(`fp32 payload of ${payload.byteLength} bytes, shape needs ${4 * n}`)
    // A fresh, aligned copy: the receiver owns it.
    return new Float32Array(payload.slice().buffer)
  }
}
