/**
 * `wardgate reload`: sends SIGHUP to the running gateway and waits for its answer in the status
 * file (lastReload, written within a second of the reload), so that the reload is done when the
 * command returns: the unit's ExecReload. With `kill -HUP $MAINPID`, systemd 252 (bookworm) took
 * the reload as finished when kill exited, before the gateway had read the file (seen under
 * systemd-nspawn: "Reloaded" 1.2 s before the gateway's notice), and kill needs procps, which a
 * minimal Debian lacks. Exit 0 when the reload was applied (settings that need a restart are
 * named), 1 when the file was refused or a device family kept its old settings (systemctl reload
 * then reports the failure; the gateway runs on), 2 when no gateway runs or it did not answer.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfigFile } from '../config/load.js';
import { readStatusFile, statusFilePath } from '../status-file.js';
import { steadyNow } from '../steady-clock.js';

/**
 * The running gateway's status file from its configuration file (`gateway.statusFile`, else
 * status.json in `gateway.dataDir`). The file may be the very one the reload is about to refuse:
 * then those two settings are read as they stand, or the default data folder ($STATE_DIRECTORY
 * under systemd, else ./wardgate-data) taken, so that the refusal is still reported.
 */
export function statusFileForReload(file: string, env: NodeJS.ProcessEnv = process.env): string {
  try {
    const c = loadConfigFile(file);
    return resolve(statusFilePath(c.gateway.dataDir, c.gateway.statusFile));
  } catch {
    let g: { dataDir?: unknown; statusFile?: unknown } | undefined;
    try {
      g = (parseYaml(readFileSync(file, 'utf8')) as { gateway?: { dataDir?: unknown; statusFile?: unknown } } | null)?.gateway;
    } catch {
      g = undefined;
    }
    if (typeof g?.statusFile === 'string' && g.statusFile.length > 0) return resolve(g.statusFile);
    const dir = typeof g?.dataDir === 'string' && g.dataDir.length > 0 ? g.dataDir : env.STATE_DIRECTORY?.split(':')[0] || './wardgate-data';
    return resolve(statusFilePath(dir));
  }
}

export interface ReloadCommandResult {
  code: number;
  message: string;
}

export async function reloadCommand(path: string, opts: { pid?: number; timeoutMs: number }): Promise<ReloadCommandResult> {
  const before = readStatusFile(path);
  const pid = opts.pid ?? (before && before.stoppedAt === undefined ? before.pid : undefined);
  if (pid === undefined) return { code: 2, message: `no running gateway found: the status file ${path} names none; pass --pid` };
  const since = before?.pid === pid ? (before.lastReload?.at ?? 0) : 0;
  try {
    process.kill(pid, 'SIGHUP');
  } catch (e) {
    return { code: 2, message: `cannot signal process ${pid}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
  }
  const deadline = steadyNow() + opts.timeoutMs;
  for (;;) {
    const s = readStatusFile(path);
    const r = s?.pid === pid ? s.lastReload : undefined;
    if (r && r.at !== since) {
      if (r.error !== undefined) return { code: 1, message: `refused, the running configuration stays: ${r.error}` };
      const parts = [
        r.applied.length ? `applied: ${r.applied.join(', ')}` : 'nothing to apply',
        ...(r.needsRestart.length ? [`after a restart only: ${r.needsRestart.join(', ')}`] : []),
        ...r.failed.map((f) => `${f.family} kept its old settings: ${f.error}`),
      ];
      return { code: r.ok ? 0 : 1, message: parts.join('; ') };
    }
    if (steadyNow() > deadline) return { code: 2, message: `process ${pid} did not report the reload within ${opts.timeoutMs / 1000} s (${path})` };
    await new Promise((res) => setTimeout(res, 100));
  }
}
