/**
 * The layout of a group's point-to-point mailboxes (mailbox.ts moves the messages): one per ordered pair
 * (src, dst) of members, MAILBOX_WORDS Int32 words each, in the group block.
 *
 *   Int32 words of the mailbox of pair (src, dst) (MAILBOX_WORDS = 64):
 *   [0] head: messages posted   [1] tail: messages taken off the queue
 *   [2] arrivals, [3] doorbell: used in the diagonal mailbox (d, d) only (no pair sends to itself): every
 *       send to d takes its stamp from (d, d)[2] before it publishes, and bumps (d, d)[3] after, which is
 *       the word a recv from any source sleeps on (head, then doorbell: a scan that missed a message
 *       finds the doorbell moved, so no wake-up is lost)
 *   [4 + e*ENTRY_WORDS ...] entry e = seq % DEPTH:
 *       [offset, numel, dtypeCode | ndim << 8, tag, stamp]
 *   The sender writes the entry with plain stores, then stores head (an Atomics store: publishing it); the
 *   receiver reads it after loading head, then stores tail, which frees the entry for the sender. The
 *   entry is checked against what the receiver expects when the message is taken.
 *
 * A message's arena region holds the tensor's bytes, then (from the next multiple of 8) its dims as
 * float64: the receiver compares the shape exactly, not by a hash that a crafted shape could collide with.
 */
import type { Tensor } from '../../tensor/tensor.js';
import { MAILBOX_WORDS } from './group-block.js';

export const HEAD = 0, TAIL = 1, ARRIVALS = 2, DOORBELL = 3;
const ENTRIES = 4, ENTRY_WORDS = 5;
/** Messages a pair can have in flight before `send` waits. */
export const MAILBOX_DEPTH = Math.floor((MAILBOX_WORDS - ENTRIES) / ENTRY_WORDS);

/** Where a message's dims start, from its region's start: after `byteLength` bytes of data, 8-aligned. */
export function dimsOffset(byteLength: number): number {
  return Math.ceil(byteLength / 8) * 8;
}

/** Bytes of the region of a message of `byteLength` bytes in `ndim` dims. */
export function messageRegionBytes(byteLength: number, ndim: number): number {
  return dimsOffset(byteLength) + 8 * ndim;
}

/** A posted message as the receiver read it. `queued`: still at the tail of its pair's queue (else held). */
export interface Message {
  readonly src: number;
  readonly offset: number;
  readonly numel: number;
  readonly dtypeCode: number;
  readonly ndim: number;
  readonly tag: number;
  readonly stamp: number;
  queued: boolean;
}

/** Word index of the entry of message number `seq` in the mailbox at word `base`. */
export function entryIndex(base: number, seq: number): number {
  return base + ENTRIES + (seq % MAILBOX_DEPTH) * ENTRY_WORDS;
}

/** Writes the entry of `t`, copied to arena offset `offset`, sent with `tag` and arrival stamp `stamp`. */
export function writeEntry(w: Int32Array, e: number, offset: number, t: Tensor, tag: number, stamp: number): void {
  w[e] = offset | 0;
  w[e + 1] = t.numel;
  w[e + 2] = t.info.code | (t.ndim << 8);
  w[e + 3] = tag;
  w[e + 4] = stamp;
}

/** Reads the entry at word `e` of a message from group member `src`. */
export function readEntry(w: Int32Array, e: number, src: number): Message {
  return {
    src, offset: w[e]! >>> 0, numel: w[e + 1]!, dtypeCode: w[e + 2]! & 0xff, ndim: w[e + 2]! >>> 8,
    tag: w[e + 3]!, stamp: w[e + 4]!, queued: true,
  };
}
