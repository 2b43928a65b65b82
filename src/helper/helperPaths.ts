import * as path from 'node:path';

/**
 * Where python/pyflight_helper lives. The bundles sit in dist/, the helper's package in python/
 * beside it, both in the repo and in the installed extension.
 */
export function helperPythonPath(): string {
  return process.env.PYFLIGHT_HELPER_PATH ?? path.join(__dirname, '..', 'python');
}
