/**
 * A walk over a value about to cross threads by structured clone (a rank's result, launch's `args`):
 * it finds what structured clone would refuse, naming where it sits (`.a[1]`), and reports whether the
 * value holds what must not cross as it is: Tensors (which would arrive as plain objects without their
 * data) and views of shared memory (which would arrive as views of the arena, which later jobs reuse).
 * The walk is iterative, so that deep values do not overflow the stack, and visits each object once.
 */
import { types } from 'node:util';
import { MessagePort } from 'node:worker_threads';
import { Tensor } from '../tensor/tensor.js';

/** How a value sits in its parent: an array item, a property, a Map key or value, a Set member. */
const enum Via { Item, Property, MapKey, MapValue, SetMember }

/** One value of the walk and how it was reached; the path is spelled only for the value reported. */
interface Step {
  readonly value: unknown;
  readonly parent: Step | undefined;
  readonly via: Via;
  /** The index, property name or Map key. */
  readonly key: unknown;
}

export interface ScanResult {
  /** The first value structured clone refuses, and where it is (`''` for the root). */
  readonly uncloneable: { readonly value: unknown; readonly at: string } | undefined;
  /** The value holds a Tensor or a view of shared memory: it must be encoded before it crosses. */
  readonly needsEncoding: boolean;
  /**
   * The value holds an object of a class the walk does not know (a user class, a host object): structured
   * clone may still refuse it, so the caller checks it with a real clone.
   */
  readonly exotic: boolean;
}

/** Objects structured clone copies without looking inside (or refuses); the scan does not enter them. */
export function isLeafObject(value: object): boolean {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer ||
    value instanceof Date || value instanceof RegExp || types.isBoxedPrimitive(value) ||
    types.isNativeError(value);
}

/** Arrays, Maps, Sets and plain objects: what the walk knows how to enter, and what encoding copies. */
export function isPlainContainer(value: object): boolean {
  if (Array.isArray(value) || value instanceof Map || value instanceof Set) return true;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** True for the values structured clone refuses (a MessagePort only crosses in a transfer list). */
function refused(value: unknown): boolean {
  switch (typeof value) {
    case 'function':
    case 'symbol':
      return true;
    case 'object':
      return value !== null && (types.isProxy(value) || types.isPromise(value) || types.isWeakMap(value) ||
        types.isWeakSet(value) || value instanceof WeakRef || value instanceof FinalizationRegistry ||
        types.isGeneratorObject(value) || types.isModuleNamespaceObject(value) || value instanceof MessagePort);
    default:
      return false;
  }
}

/** True for a view whose memory is shared (the arena, or any SharedArrayBuffer). */
export function isSharedView(value: unknown): value is ArrayBufferView {
  return ArrayBuffer.isView(value) && value.buffer instanceof SharedArrayBuffer;
}

function spell(step: Step): string {
  const key = step.key;
  switch (step.via) {
    case Via.Item: return `[${String(key)}]`;
    case Via.Property: return `.${String(key)}`;
    case Via.MapKey: return `.keys()[${String(key)}]`;
    case Via.SetMember: return `.values()[${String(key)}]`;
    default: return `.get(${typeof key === 'string' ? JSON.stringify(key) : describeKey(key)})`;
  }
}

/** A Map key that is not a string, as a path shows it. */
function describeKey(key: unknown): string {
  return typeof key === 'object' && key !== null ? '{...}' : String(key);
}

/** Where `step` sits in the root: `.a[1].get("k")`, or `''` for the root itself. */
function pathOf(step: Step): string {
  let path = '';
  for (let s: Step | undefined = step; s?.parent !== undefined; s = s.parent) path = spell(s) + path;
  return path;
}

/** Primitives other than symbols need no step of their own: structured clone takes them all. */
function needsVisit(value: unknown): boolean {
  const type = typeof value;
  return type === 'object' ? value !== null : type === 'function' || type === 'symbol';
}

/** Pushes the children that need a visit: items, Map keys and values, Set members, own properties. */
function pushChildren(parent: Step, value: object, stack: Step[]): void {
  const push = (child: unknown, via: Via, key: unknown): void => {
    if (needsVisit(child)) stack.push({ value: child, parent, via, key });
  };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) push(value[i], Via.Item, i);
  } else if (value instanceof Map) {
    let i = 0;
    for (const [key, item] of value) {
      push(key, Via.MapKey, i++);
      push(item, Via.MapValue, key);
    }
  } else if (value instanceof Set) {
    let i = 0;
    for (const item of value) push(item, Via.SetMember, i++);
  } else {
    for (const key of Object.keys(value)) push((value as Record<string, unknown>)[key], Via.Property, key);
  }
}

/** Scans `value` for what structured clone refuses and for what must be encoded first. */
export function scanForClone(value: unknown): ScanResult {
  const seen = new Set<object>();
  const stack: Step[] = [{ value, parent: undefined, via: Via.Item, key: undefined }];
  let needsEncoding = false;
  let exotic = false;
  while (stack.length > 0) {
    const step = stack.pop()!;
    const v = step.value;
    if (refused(v)) return { uncloneable: { value: v, at: pathOf(step) }, needsEncoding, exotic };
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (v instanceof Tensor || isSharedView(v)) needsEncoding = true;
    else if (!isLeafObject(v)) {
      exotic ||= !isPlainContainer(v);
      pushChildren(step, v, stack);
    }
  }
  return { uncloneable: undefined, needsEncoding, exotic };
}
