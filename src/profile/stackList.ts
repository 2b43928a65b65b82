/**
 * The stacks of a profile as added, as frame ids: `[length, frame…]` per stack in one growing
 * Int32Array, counts beside it. The collapsed-text reader writes into it directly; the call tree
 * is built from it in a second pass (reading the text and building the tree in one pass ran ~15 %
 * slower: streaming 86 MB of text through the cache evicted the tree's nodes); exports read it
 * back. Pure, no I/O.
 */

/** What the call tree found a stack to be (bits of `StackList.flags`). */
export const StackFlag = {
  /** A thread frame (py-spy `--threads`) comes first: exports and merges leave it out. */
  ThreadFrame: 1,
  /** A sample that waits (waits.ts). */
  Idle: 2,
  /** A sample of PyFlight's own threads: not counted anywhere (threads.ts). */
  LeftOut: 4,
} as const;

/** A position in a StackList: `each` from here visits only the stacks added after it. */
export interface StackMark {
  readonly at: number;
  readonly index: number;
}

export class StackList {
  private data = new Int32Array(4096);
  private end = 0;
  /** Where the open stack's length is. */
  private top = 0;
  private readonly counts: number[] = [];
  /** StackFlag bits per stack, set by the call tree once it has read the stack. */
  private readonly flags: number[] = [];

  /** Room for about `frames` more frames (and their stacks' headers), so a big text does not regrow the array. */
  reserve(frames: number): void {
    if (this.end + frames > this.data.length) this.regrow(this.end + frames);
  }

  /** Starts a stack of `count` samples: its frames follow with `frame`, root first. */
  begin(count: number): void {
    if (this.end === this.data.length) this.regrow(this.end + 1);
    this.top = this.end;
    this.data[this.end++] = 0;
    this.counts.push(count);
    this.flags.push(0);
  }

  frame(id: number): void {
    if (this.end === this.data.length) this.regrow(this.end + 1);
    this.data[this.end++] = id;
    this.data[this.top]++;
  }

  mark(): StackMark {
    return { at: this.end, index: this.counts.length };
  }

  /** Each stack added since `from`: its frames are `data[start, start + n)`; read them during the call. */
  each(from: StackMark, visit: (data: Int32Array, start: number, n: number, count: number, index: number) => void): void {
    const data = this.data;
    for (let at = from.at, i = from.index; at < this.end; i++) {
      const n = data[at];
      visit(data, at + 1, n, this.counts[i], i);
      at += n + 1;
    }
  }

  setFlags(index: number, flags: number): void {
    this.flags[index] = flags;
  }

  /** The stacks that count, with the same frames summed, in the order first added, frames as
   * `text(id)` (without their thread frame); a sample that waits is marked `idle`. */
  merged<T>(text: (id: number) => T): Array<{ frames: T[]; count: number; idle?: true }> {
    const merged = new Map<string, { frames: T[]; count: number; idle?: true }>();
    this.each({ at: 0, index: 0 }, (data, start, n, count, index) => {
      const flags = this.flags[index];
      if (flags & StackFlag.LeftOut) return;
      const skip = flags & StackFlag.ThreadFrame ? 1 : 0;
      const ids = data.subarray(start + skip, start + n);
      if (!ids.length) return;
      const key = ids.join(',');
      const known = merged.get(key);
      if (known) known.count += count;
      else merged.set(key, { frames: Array.from(ids, text), count, ...(flags & StackFlag.Idle ? { idle: true as const } : {}) });
    });
    return [...merged.values()];
  }

  private regrow(atLeast: number): void {
    const next = new Int32Array(Math.max(atLeast, this.data.length * 2));
    next.set(this.data.subarray(0, this.end));
    this.data = next;
  }
}
