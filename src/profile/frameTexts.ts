/**
 * py-spy collapsed text (`frame;frame;… count` per line) read into frame ids: each distinct frame
 * text gets an id in the order first seen. The call tree's reader (callTree.ts). Pure, no I/O.
 */
import type { StackList } from './stackList';

export class FrameTexts {
  /** Interned texts by id. */
  readonly texts: string[] = [];
  private readonly hashes: number[] = [];
  // Found by a hash of the text where it lies in the input, so no substring is made for a frame already known.
  private slots = new Int32Array(1024);

  /** Appends each line with a positive count to `into` as frame ids (root first). Blank or
   * malformed lines are skipped. */
  scan(text: string, into: StackList): void {
    const length = text.length;
    let pos = 0;
    while (pos < length) {
      let end = text.indexOf('\n', pos);
      if (end < 0) end = length;
      let stop = end;
      while (stop > pos && text.charCodeAt(stop - 1) <= 32) stop--;
      const space = text.lastIndexOf(' ', stop - 1);
      if (space > pos) {
        const count = countAt(text, space + 1, stop);
        if (count > 0) {
          into.begin(count);
          let start = pos;
          for (;;) {
            let semi = text.indexOf(';', start);
            if (semi < 0 || semi > space) semi = space;
            into.frame(this.idOf(text, start, semi));
            if (semi === space) break;
            start = semi + 1;
          }
        }
      }
      pos = end + 1;
    }
  }

  /** The id of the frame text at `text[start, end)`, interned if new. */
  idOf(text: string, start: number, end: number): number {
    const h = frameHash(text, start, end);
    const mask = this.slots.length - 1;
    let slot = h & mask;
    for (let entry = this.slots[slot]; entry !== 0; entry = this.slots[slot]) {
      const known = this.texts[entry - 1];
      // A substring compared with === is about twice as fast as startsWith here (V8 compares the bytes at once).
      if (known.length === end - start && text.substring(start, end) === known) return entry - 1;
      slot = (slot + 1) & mask;
    }
    const id = this.texts.length;
    // A copy, not a slice: the frame must not keep the whole chunk of text alive.
    this.texts.push((' ' + text.slice(start, end)).slice(1));
    this.hashes.push(h);
    if (this.texts.length * 2 > this.slots.length) {
      this.slots = new Int32Array(this.slots.length * 2);
      this.hashes.forEach((hash, i) => this.place(hash, i));
    } else {
      this.slots[slot] = id + 1;
    }
    return id;
  }

  private place(hash: number, id: number): void {
    const mask = this.slots.length - 1;
    let slot = hash & mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
    this.slots[slot] = id + 1;
  }
}

/** About how many frames `text` holds, a little over: from its first 256 KB. Reserving too much
 * costs address space only (typed arrays start as untouched zero pages). */
export function estimateFrames(text: string): number {
  const sample = Math.min(text.length, 1 << 18);
  let frames = 1;
  for (let at = text.indexOf(';'); at >= 0 && at < sample; at = text.indexOf(';', at + 1)) frames++;
  for (let at = text.indexOf('\n'); at >= 0 && at < sample; at = text.indexOf('\n', at + 1)) frames++;
  return Math.ceil(frames * (text.length / Math.max(1, sample)) * 1.25);
}

/** A stack's count: digits as py-spy writes them (anything else through Number, as before); 0 when not a positive integer. */
function countAt(text: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) {
      const value = Number(text.slice(start, end));
      return Number.isInteger(value) && value > 0 ? value : 0;
    }
    n = n * 10 + c;
  }
  return end > start ? n : 0;
}

/** A hash of a frame text from its length, its first 8 and its last 8 characters (the name, and
 * the file's tail with the line: what tells frames apart), so long paths cost nothing. */
function frameHash(text: string, start: number, end: number): number {
  let h = end - start;
  const headEnd = Math.min(end, start + 8);
  for (let i = start; i < headEnd; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  for (let i = Math.max(headEnd, end - 8); i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h ^= h >>> 15;
  return h >>> 0;
}
