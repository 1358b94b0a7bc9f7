/**
 * Hash slots as Redis Cluster computes them: CRC16 (XMODEM) of the key modulo 16384 (cluster
 * spec, "Key distribution model"; keys here carry no {hash tag}).
 */
const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte += 1) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ byte) & 0xff] ?? 0);
  return crc;
}

export function slotOf(key: string): number {
  return crc16(Buffer.from(key, 'utf8')) % 16384;
}

/** One key per slot, `keys[slot]`, found by trying `prefix0`, `prefix1`, ... */
export function keyPerSlot(prefix: string): string[] {
  const keys: Array<string | undefined> = new Array(16384).fill(undefined);
  let missing = 16384;
  for (let index = 0; missing > 0; index += 1) {
    const key = `${prefix}${index}`;
    const slot = slotOf(key);
    if (keys[slot] === undefined) {
      keys[slot] = key;
      missing -= 1;
    }
  }
  return keys as string[];
}
