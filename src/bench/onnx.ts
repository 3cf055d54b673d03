// Just enough ONNX protobuf to build one-node models in code, so onnxruntime-web can run the
// twin of a kernel (field numbers from onnx/onnx.proto3). Float32 inputs/outputs only.

// ---- protobuf wire format

class Writer {
  readonly bytes: number[] = []

  varint (v: number): this {
    // Non-negative values below 2^53 (field keys, lengths, dims, small ints).
    while (v >= 0x80) { this.bytes.push((v % 0x80) | 0x80); v = Math.floor(v / 0x80) }
    this.bytes.push(v)
    return this
  }

  int (field: number, v: number): this { return this.varint(field * 8).varint(v) }

  bytesField (field: number, data: Uint8Array | number[]): this {
    this.varint(field * 8 + 2).varint(data.length)
    for (const b of data) this.bytes.push(b)
    return this
  }

  string (field: number, s: string): this { return this.bytesField(field, new TextEncoder().encode(s)) }

  message (field: number, build: (w: Writer) => void): this {
    const w = new Writer()
    build(w)
    return this.bytesField(field, w.bytes)
  }
}

// ---- ONNX messages

export interface OnnxValue {
  name: string
  dims: readonly number[]
}

export interface OnnxNode {
  opType: string
  inputs: readonly string[]
  outputs: readonly string[]
  /** Integer attributes only (transA, transB, axis, …). */
  attributes?: Record<string, number>
}

export interface OnnxGraph {
  nodes: readonly OnnxNode[]
  inputs: readonly OnnxValue[]
  outputs: readonly OnnxValue[]
  /** @default 17 */
  opset?: number
}

const FLOAT = 1 // TensorProto.DataType.FLOAT
const ATTR_INT = 2 // AttributeProto.AttributeType.INT

function valueInfo (w: Writer, v: OnnxValue): void {
  w.string(1, v.name) // ValueInfoProto.name
  w.message(2, type => // .type: TypeProto
    type.message(1, tensor => { // .tensor_type
      tensor.int(1, FLOAT) // .elem_type
      tensor.message(2, shape => { // .shape: TensorShapeProto
        for (const d of v.dims) shape.message(1, dim => dim.int(1, d)) // .dim[].dim_value
      })
    }))
}

/** Serialises a ModelProto (IR version 8) holding one graph. */
export function onnxModel (g: OnnxGraph): Uint8Array {
  const w = new Writer()
  w.int(1, 8) // ir_version
  w.string(2, 'tabgrad') // producer_name
  w.message(7, graph => { // graph: GraphProto
    g.nodes.forEach((n, i) => graph.message(1, node => { // node[]
      for (const x of n.inputs) node.string(1, x)
      for (const y of n.outputs) node.string(2, y)
      node.string(3, `${n.opType}_${i}`)
      node.string(4, n.opType)
      for (const [name, value] of Object.entries(n.attributes ?? {})) {
        node.message(5, a => { a.string(1, name); a.int(3, value); a.int(20, ATTR_INT) })
      }
    }))
    graph.string(2, 'tabgrad_bench')
    for (const v of g.inputs) graph.message(11, x => valueInfo(x, v))
    for (const v of g.outputs) graph.message(12, x => valueInfo(x, v))
  })
  w.message(8, op => { op.string(1, ''); op.int(2, g.opset ?? 17) }) // opset_import
  return new Uint8Array(w.bytes)
}
