/**
 * A real, tiny filesystem for disk-full tests: a tmpfs mounted in a temporary folder (the tests
 * run as root), and a way to fill it to the last block.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  /** A temporary folder beside the mount (not on it), for files that must not take its space. */
  root: string;
  /** The mount point. */
  mnt: string;
  /** Unmounts it and removes the temporary folder. */
  unmount(): void;
}

/** Mounts a tmpfs of `size` (mount's syntax: '2m', '16m') under a fresh temporary folder. */
export function mountTmpfs(prefix: string, size: string): Tmpfs {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const mnt = join(root, 'mnt');
  mkdirSync(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt], { stdio: 'pipe' });
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`this test needs to mount a ${size} tmpfs (run as root, with mount available): ${(e as Error).message}`);
  }
  return {
    root,
    mnt,
    unmount: () => {
      try {
        execFileSync('umount', [mnt], { stdio: 'pipe' });
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}

/** Appends to `<dir>/filler` until the filesystem refuses a write (64 KiB chunks, then 512 B); returns its path and bytes. */
export function fillFilesystem(dir: string): { path: string; bytes: number } {
  const path = join(dir, 'filler');
  let bytes = 0;
  for (const size of [64 * 1024, 512]) {
    const chunk = Buffer.alloc(size, 7);
    try {
      for (;;) {
        writeFileSync(path, chunk, { flag: 'a' });
        bytes += size;
      }
    } catch {
      /* full at this chunk size */
    }
  }
  return { path, bytes };
}
