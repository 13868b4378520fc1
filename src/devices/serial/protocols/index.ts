/** The serial protocols by config name. A new protocol is a folder here plus one line. */
import type { SerialProtocolName } from '../config.js';
import { geS5 } from './ge-s5/session.js';
import { intellivue } from './intellivue/session.js';
import { line } from './line/session.js';
import { masimo } from './masimo/session.js';
import { medibus } from './medibus/session.js';
import { nonin } from './nonin/session.js';
import type { ProtocolDef } from './types.js';

export const PROTOCOLS: Record<SerialProtocolName, ProtocolDef> = {
  masimo,
  intellivue,
  'ge-s5': geS5,
  nonin,
  line,
  medibus,
};
