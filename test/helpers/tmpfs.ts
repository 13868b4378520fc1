/**
 * A real, tiny filesystem for disk-full tests: a tmpfs mounted in a temporary folder (the tests
 * run as root), and a way to fill it to the last block.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** An ext4 file system in a file, loop-mounted with errors=remount-ro (an SD card's usual mount). */
export interface Ext4Card extends Tmpfs {
  /** Makes the kernel take it for failing, as an SD card's I/O error does: ext4 aborts its journal and goes read-only. */
  fail(): void;
}

/** Creates and mounts an ext4 image of `sizeMiB` under a fresh temporary folder (the tests run as root). */
export function mountExt4(prefix: string, sizeMiB: number): Ext4Card {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const mnt = join(root, 'mnt');
  const image = join(root, 'card.img');
  mkdirSync(mnt);
  try {
    writeFileSync(image, '');
    execFileSync('truncate', ['-s', `${sizeMiB}M`, image], { stdio: 'pipe' });
    execFileSync('mkfs.ext4', ['-q', '-F', image], { stdio: 'pipe' });
    execFileSync('mount', ['-o', 'loop,errors=remount-ro', image, mnt], { stdio: 'pipe' });
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`this test needs to loop-mount an ext4 image (run as root, with mkfs.ext4 and loop devices): ${(e as Error).message}`);
  }
  const device = (): string => {
    const line = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[1] === mnt);
    if (!line) throw new Error(`${mnt} is not mounted`);
    return line.split(' ')[0]!.replace('/dev/', '');
  };
  return {
    root,
    mnt,
    fail: () => writeFileSync(`/sys/fs/ext4/${device()}/trigger_fs_error`, '1'),
    unmount: () => {
      try {
        execFileSync('umount', [mnt], { stdio: 'pipe' });
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
