import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, PyFlightError } from './errors';

/**
 * Writes via a temp file in the same folder and renames it, so no reader sees half a file. A full
 * disk or a folder that cannot be written fails with WRITE_FAILED saying which, and leaves nothing.
 */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await fs.writeFile(tmp, content, 'utf8');
    await fs.rename(tmp, file);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw writeError(file, error);
  }
}

function writeError(file: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new PyFlightError(ErrorCode.WriteFailed, `Cannot write ${file}: the disk is full.`,
      'Free some space or choose another folder, then save again.');
  }
  const why: Record<string, string> = { EROFS: 'the file system is read-only', EACCES: 'permission denied', EPERM: 'permission denied',
    ENOENT: 'the folder does not exist', ENOTDIR: 'a part of the path is not a folder', EISDIR: 'it is a folder' };
  if (code && why[code]) {
    return new PyFlightError(ErrorCode.WriteFailed, `Cannot write ${file}: ${why[code]}.`, 'Choose a folder you can write to, then save again.');
  }
  return error;
}
