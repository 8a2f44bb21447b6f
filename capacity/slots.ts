// Redis Cluster slots, pure: CRC16 and the hash-tag rule exactly as Redis computes a key's
// slot (cluster.c keyHashSlot, crc16.c), and the statistics of how keys spread over the slots.
// No I/O: the bench and the specs check these against CLUSTER KEYSLOT on a real server.

/** The number of hash slots of a Redis Cluster. */
export const SLOT_COUNT = 16384;

// CRC16-CCITT as XMODEM: polynomial 0x1021, initial value 0, no reflection, no final XOR.
const CRC16_TABLE = ((): Uint16Array => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

/** CRC16 (XMODEM) of some bytes, as Redis's crc16(). */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

/**
 * The slot of a key: CRC16 of its hash tag (the bytes between the first `{` and the first `}`
 * after it, when that is not empty), else of the whole key; modulo 16384.
 */
export function keySlot(key: string | Uint8Array): number {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close !== -1 && close !== open + 1) return crc16(bytes.subarray(open + 1, close)) & (SLOT_COUNT - 1);
  }
  return crc16(bytes) & (SLOT_COUNT - 1);
}

/** How evenly counts spread over bins, against a uniform spread. */
export interface Spread {
  items: number;
  bins: number;
  mean: number;
  min: number;
  max: number;
  /** The fullest bin over the mean. */
  maxOverMean: number;
  /** Pearson's chi-square statistic against equal expected counts. */
  chiSquare: number;
  degreesOfFreedom: number;
  /** P(χ² ≥ observed) under a uniform spread (Wilson–Hilferty); small means not uniform. */
  pValue: number;
  /** The fullest bin a uniform (Poisson) spread of the same mean would give, at the median. */
  expectedMaxOverMean: number;
}

/** The spread of `counts` (one entry per bin) against uniform. */
export function spreadOf(counts: ArrayLike<number>): Spread {
  const bins = counts.length;
  if (bins < 2) throw new RangeError('a spread needs at least two bins');
  let items = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < bins; i++) {
    const count = counts[i]!;
    items += count;
    if (count < min) min = count;
    if (count > max) max = count;
  }
  if (items === 0) throw new RangeError('a spread needs at least one item');
  const mean = items / bins;
  let chiSquare = 0;
  for (let i = 0; i < bins; i++) chiSquare += (counts[i]! - mean) ** 2 / mean;
  const degreesOfFreedom = bins - 1;
  return {
    items,
    bins,
    mean,
    min,
    max,
    maxOverMean: max / mean,
    chiSquare,
    degreesOfFreedom,
    pValue: chiSquareUpperTail(chiSquare, degreesOfFreedom),
    expectedMaxOverMean: expectedPoissonMax(mean, bins) / mean,
  };
}

/**
 * P(X ≥ x) for X chi-square with k degrees of freedom, by the Wilson–Hilferty cube-root
 * normal approximation: good to a few parts in a thousand for k in the thousands.
 */
export function chiSquareUpperTail(x: number, k: number): number {
  if (!(k > 0)) throw new RangeError('degrees of freedom must be positive');
  if (x <= 0) return 1;
  const v = 2 / (9 * k);
  const z = (Math.cbrt(x / k) - (1 - v)) / Math.sqrt(v);
  return normalUpperTail(z);
}

/** P(Z ≥ z) for a standard normal Z. */
export function normalUpperTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

// erfc by the Numerical Recipes Chebyshev fit (erfcc): relative error below 1.2e-7 everywhere.
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
        t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/**
 * The median of the largest of `bins` independent Poisson(mean) counts: the smallest m with
 * P(every bin ≤ m) ≥ 1/2. What "the fullest slot" looks like when the spread is uniform.
 */
export function expectedPoissonMax(mean: number, bins: number): number {
  let term = Math.exp(-mean); // P(X = 0); mean stays far below 700 here, so no underflow
  let cdf = term;
  for (let m = 0; m < 100_000; m++) {
    if (cdf ** bins >= 0.5) return m;
    term *= mean / (m + 1);
    cdf += term;
  }
  throw new RangeError('mean too large for the Poisson maximum');
}

/** Counts of the slots of the given keys' slots, one entry per slot. */
export function slotCounts(slots: Iterable<number>): Uint32Array {
  const counts = new Uint32Array(SLOT_COUNT);
  for (const slot of slots) counts[slot]! += 1;
  return counts;
}
