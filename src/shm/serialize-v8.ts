/**
 * The fallback path of `DefaultCodec`: node:v8 serialization with typed arrays as host objects, large ones out of band.
 */
import v8 from 'node:v8';
import { invalidType } from '../errors.js';
import { makeView, OUT_OF_BAND_MIN_BYTES, VIEW_INDEX } from './serialize-format.js';

/** node:v8 with typed arrays written as host objects, large ones out of band. */
export class OutOfBandSerializer extends v8.Serializer {
  readonly buffers: Uint8Array[] = [];
  constructor() {
    super();
    (
      this as unknown as { _setTreatArrayBufferViewsAsHostObjects(on: boolean): void }
    )._setTreatArrayBufferViewsAsHostObjects(true);
  }
  _writeHostObject(view: ArrayBufferView): void {
    const type = VIEW_INDEX.get(view.constructor);
    if (type === undefined) throw invalidType('value', 'a value the structured-clone algorithm accepts', view);
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    this.writeUint32(type);
    if (view.byteLength >= OUT_OF_BAND_MIN_BYTES) {
      this.writeUint32(1);
      this.writeUint32(this.buffers.push(bytes) - 1);
    } else {
      this.writeUint32(0);
      this.writeUint32(bytes.byteLength);
      this.writeRawBytes(bytes);
    }
  }
}

export class OutOfBandDeserializer extends v8.Deserializer {
  constructor(main: Uint8Array, readonly buffers: readonly Uint8Array[]) {
    super(main);
  }
  _readHostObject(): ArrayBufferView {
    const type = this.readUint32();
    if (this.readUint32() === 1) return makeView(type, this.buffers[this.readUint32()]!);
    const raw = this.readRawBytes(this.readUint32()) as Uint8Array;
    return makeView(type, new Uint8Array(raw)); // a copy: `main` is the reader's scratch
  }
}
