/** Raw MQTT packets for clients the tests and benchmarks drive by hand (a login flood). */
import mqttPacket from 'mqtt-packet';

/** An MQTT 3.1.1 CONNECT with username and password (clean session, keep-alive 60 s). */
export function connectPacket(clientId: string, username: string, password: string): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    keepalive: 60,
    clientId,
    username,
    password: Buffer.from(password),
  });
}
