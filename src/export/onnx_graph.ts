// A small builder for ONNX graphs on the onnx.proto schema (onnx-proto, protobufjs): named values, float
// initializers, nodes with typed attributes, and the model's serialization. It knows nothing about generators.
import { onnx } from 'onnx-proto';

/**
 * The IR version that goes with an opset (onnx's versioning table: opset <= 17 -> IR 8, 18-19 -> 9, 20-21 -> 10).
 * onnx-proto's schema is IR 8's; later IR versions only add fields this builder does not use.
 */
export function irVersionFor(opset: number): number {
  return opset <= 17 ? 8 : opset <= 19 ? 9 : 10;
}

/** INT (a number), INTS, STRING, or FLOAT (spelled { float } so that 1.0 is not mistaken for an INT). */
export type AttributeValue = number | number[] | string | { float: number };
/** A dimension: a fixed size or a symbolic name (dynamic). */
export type Dim = number | string;

export interface ModelInfo {
  opset: number;
  producerName: string;
  producerVersion: string;
  docString: string;
  metadata: Record<string, string>;
}

export class OnnxGraph {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly constants = new Map<string, string>();
  private counter = 0;

  constructor(readonly name: string) {}

  /** A fresh value name with a readable stem. */
  fresh(stem: string): string { return `${stem}_${this.counter++}`; }

  addInput(name: string, dims: Dim[]): string { this.inputs.push(valueInfo(name, dims)); return name; }
  addOutput(name: string, dims: Dim[]): void { this.outputs.push(valueInfo(name, dims)); }

  /** A float32 initializer (little-endian raw data, as every ONNX runtime reads it). */
  addFloat(name: string, data: Float32Array, dims: number[]): string {
    // a view, not a copy: the caller hands over `data` (a full-width unet_256 is 218 MB of weights)
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytes });
    return name;
  }

  /** An int64 initializer (e.g. Pad's pads), shared between nodes that use the same values. */
  int64Constant(values: number[]): string {
    const key = `i64:${values.join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.fresh('const_i64');
      this.initializers.push({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: values });
      this.constants.set(key, name);
    }
    return name;
  }

  /** A float32 vector filled with `value`, shared by every user of the same length and value. */
  filledConstant(length: number, value: number): string {
    const key = `f32:${length}:${value}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.addFloat(this.fresh(`const_f32_${value}`), new Float32Array(length).fill(value), [length]);
      this.constants.set(key, name);
    }
    return name;
  }

  /** Appends a node of the default domain; returns its (single) output's name. */
  node(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, output?: string): string {
    const out = output ?? this.fresh(opType.toLowerCase());
    this.nodes.push({
      opType, input: inputs, output: [out], name: this.fresh(`${opType}_node`),
      attribute: Object.entries(attributes).map(([name, v]) => attribute(name, v)),
    });
    return out;
  }

  /** Serializes the model (ModelProto) with the graph as built so far. */
  encode(info: ModelInfo): Uint8Array {
    const model: onnx.IModelProto = {
      irVersion: irVersionFor(info.opset),
      opsetImport: [{ domain: '', version: info.opset }],
      producerName: info.producerName,
      producerVersion: info.producerVersion,
      docString: info.docString,
      metadataProps: Object.entries(info.metadata).map(([key, value]) => ({ key, value })),
      graph: { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}

function valueInfo(name: string, dims: Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttributeValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  return { name, type: T.FLOAT, f: v.float };
}
