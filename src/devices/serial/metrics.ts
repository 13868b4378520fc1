/** The serial family's gauge: each port's link state (0 closed, 1 open, 2 open but silent). */
import { Gauge, type Registry } from 'prom-client';

const byRegistry = new WeakMap<Registry, Gauge<'port'>>();

export function portStateGauge(registry: Registry): Gauge<'port'> {
  let g = byRegistry.get(registry);
  if (!g) {
    g = new Gauge({
      name: 'wardgate_serial_port_state',
      help: 'Serial port link: 0 closed (retrying), 1 open and receiving, 2 open but silent past its silenceTimeout',
      labelNames: ['port'],
      registers: [registry],
    });
    byRegistry.set(registry, g);
  }
  return g;
}
