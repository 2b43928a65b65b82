/**
 * execa, loaded on first use. At activation its module cost ~11 ms of the 24 ms it took to load the
 * extension, and 112 KB of its 393 KB bundle, while activation spawns nothing. The extension build
 * ships it as dist/execa.js next to dist/extension.js (scripts/build.mjs); the CLI and test bundles
 * include it as usual.
 */
import type * as Execa from 'execa';

let loaded: typeof Execa | undefined;

export const execa = ((...args: unknown[]) =>
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily on purpose
  ((loaded ??= require('execa') as typeof Execa).execa as (...a: unknown[]) => unknown)(...args)) as typeof Execa.execa;
