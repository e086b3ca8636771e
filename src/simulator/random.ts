// A small seeded PRNG so every seeded simulator holds the same tasks for the same seed.

/** mulberry32: fast, 32-bit state, good enough for test data. Returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

export function hexId(random: () => number, length: number): string {
  let out = '';
  while (out.length < length) out += Math.floor(random() * 16).toString(16);
  return out;
}

const DAY = 86_400_000;

/**
 * A seeded age mix: mostly spread over 0..60 days, with a few tasks right at common retention
 * boundaries, a few in the future, and a few without a usable timestamp.
 */
export function seededAge(random: () => number): number | 'future' | 'missing' | 'malformed' {
  const roll = random();
  if (roll < 0.02) return 'future';
  if (roll < 0.03) return 'missing';
  if (roll < 0.04) return 'malformed';
  if (roll < 0.08) return 7 * DAY + (random() < 0.5 ? -60_000 : 60_000);
  return Math.floor(random() * 60 * DAY) + 1_000;
}
