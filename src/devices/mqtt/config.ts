/** Configuration of the MQTT device family (embedded broker and external subscriptions). */
import { z } from 'zod';

export const mqttConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
  })
  .loose();

export type MqttConfig = z.infer<typeof mqttConfigSchema>;
