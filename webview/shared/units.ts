/**
 * Sizes and counts as the memory panel and the host's texts write them, the same on both sides: the
 * webview bundle imports this file, never host source (src/memory/memModel.ts re-exports it).
 */

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** 1536 → "1.5 KB", -2048 → "-2.0 KB", 12 → "12 B"; `signed` adds "+" to positive numbers. */
export function formatBytes(bytes: number, signed = false): string {
  const sign = bytes < 0 ? '-' : signed && bytes > 0 ? '+' : '';
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${sign}${unit === 0 ? value.toFixed(0) : value.toFixed(value >= 100 ? 0 : 1)} ${UNITS[unit]}`;
}

export function formatCount(count: number, signed = false): string {
  return `${signed && count > 0 ? '+' : ''}${count.toLocaleString('en-US')}`;
}
