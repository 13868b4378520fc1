/** One spelling for GATT UUIDs: lower-case hex without dashes, 16-bit SIG UUIDs as 4 digits (as noble reports them). */
const SIG_BASE = /^0000([0-9a-f]{4})00001000800000805f9b34fb$/;

export function normaliseUuid(uuid: string): string {
  const u = uuid.toLowerCase().replace(/-/g, '').replace(/^0x/, '');
  const m = SIG_BASE.exec(u);
  return m ? m[1]! : u;
}
