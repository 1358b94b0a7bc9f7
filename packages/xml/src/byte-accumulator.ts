/**
 * The bytes of the one token that spans chunk boundaries. Appends are amortized O(1) per byte,
 * so a long token fed in many small chunks costs linear time; the tokenizer checks its limits
 * before every append, so the accumulator never holds more than one token's budget.
 * Large buffers are released once the token completes: an idle connection keeps nothing.
 */
const INITIAL_CAPACITY = 256;
const RETAINED_CAPACITY = 4096;

export class ByteAccumulator {
  private bytes: Buffer | null = null;
  length = 0;
  /** Bytes copied so far, growth included: the work counter the linearity tests check. */
  copiedBytes = 0;

  append(src: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    const needed = this.length + n;
    let bytes = this.bytes;
    if (bytes === null || bytes.length < needed) {
      let capacity = bytes === null ? INITIAL_CAPACITY : bytes.length * 2;
      while (capacity < needed) capacity *= 2;
      const grown = Buffer.allocUnsafe(capacity);
      if (bytes !== null) this.copiedBytes += bytes.copy(grown, 0, 0, this.length);
      this.bytes = bytes = grown;
    }
    this.copiedBytes += src.copy(bytes, this.length, start, end);
    this.length = needed;
  }

  /** Drops the last `n` bytes (a terminator like "]]" that turned out to be split across chunks). */
  truncate(n: number): void {
    this.length = Math.max(0, this.length - n);
  }

  /** Decodes the accumulated bytes and empties the accumulator. */
  take(encoding: 'latin1' | 'utf8'): string {
    const s = this.bytes === null ? '' : this.bytes.toString(encoding, 0, this.length);
    this.clear();
    return s;
  }

  clear(): void {
    this.length = 0;
    if (this.bytes !== null && this.bytes.length > RETAINED_CAPACITY) this.bytes = null;
  }

  /** Forgets everything, including the retained buffer. */
  release(): void {
    this.length = 0;
    this.bytes = null;
  }
}
