/**
 * Property-based fuzzing of every protocol schema and of the boundary functions that turn
 * outside input into typed values or coded errors (ARCHITECTURE §8): random and mutated input
 * never throws out of safeParse and always ends in a TetherError with a known code.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BACKEND_IDENTITY_CN, ClientHandshake, ServerHandshake } from '../../channel/handshake.js';
import { caPin } from '../../channel/pin.js';
import { parseControlMessage } from '../../channel/secure-session.js';
import { createTestCa, randomDeviceId, type TestCa, type TestCertifiedKey } from '../../channel/test-pki.js';
import * as protocol from '../../protocol/index.js';
import { errorBody } from '../../backend/http/error-handler.js';
import { anyJson, FUZZ_RUNS, mutated, type Json } from './fuzz-input.js';

const { isErrorCode, TetherError } = protocol;

/** Every zod schema the protocol module exports, also inside exported maps (AGENT_METHODS…). */
function exportedSchemas(): Array<[string, z.ZodType]> {
  const out: Array<[string, z.ZodType]> = [];
  const walk = (name: string, value: unknown, depth: number) => {
    if (value instanceof z.ZodType) out.push([name, value]);
    else if (depth < 3 && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(`${name}.${k}`, v, depth + 1);
    }
  };
  for (const [name, value] of Object.entries(protocol)) walk(name, value, 0);
  return out;
}

/** Runs `fn`; a throw must be a TetherError with a code from the table, and one of `allowed` when given. */
function coded(fn: () => unknown, allowed?: readonly string[]): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof TetherError)) throw new Error(`uncoded ${String(err)}`, { cause: err });
    expect(isErrorCode(err.code)).toBe(true);
    if (allowed) expect(allowed).toContain(err.code);
  }
}

const B64_32 = Buffer.alloc(32, 7).toString('base64');
const DEVICE = 'dev_abcdefghijklmnopqrstuvwx';
const CONTROL_SAMPLES: Json[] = [
  { type: 'welcome', deviceId: DEVICE, heartbeatMs: 30_000 },
  { type: 'ping', ts: 1 },
  { type: 'req', id: 1, method: 'system.echo', params: { payload: 'x', nested: [1, { a: 'b' }] } },
  { type: 'res', id: 1, ok: false, error: { code: 'METHOD_UNKNOWN', message: 'no' } },
  { type: 'evt', name: 'command.exit', data: { stdoutStreamId: 1, outcome: 'exited', exitCode: 0 } },
  { type: 'rekey', ephemeral: B64_32, nonce: B64_32 },
  { type: 'rekey_ack', ephemeral: B64_32, nonce: B64_32 },
];
const BOUNDARY_SAMPLES: Array<[z.ZodType, Json]> = [
  [protocol.TelemetryBatch, { type: 'batch', seq: 3, deviceId: DEVICE, metrics: [{ ts: 1, name: 'cpu.total', value: 0.5 }], logs: [{ ts: 1, level: 'info', source: 'journal', message: 'hi' }] }],
  [protocol.ConsoleClientMessage, { type: 'device.request', id: 1, deviceId: DEVICE, method: 'system.echo', params: { payload: 'x' } }],
  [protocol.RegisterRequest, { token: 'rt_x', csr: `-----BEGIN CERTIFICATE REQUEST-----\n${'A'.repeat(64)}\n-----END CERTIFICATE REQUEST-----`, name: 'n' }],
  [protocol.LoginRequest, { username: 'admin', password: 'pw' }],
  [protocol.Hello, { type: 'hello', v: protocol.PROTOCOL_VERSION, deviceId: DEVICE, ephemeral: B64_32, nonce: B64_32 }],
];

describe('fuzz: protocol schemas and boundary decoders', () => {
  it('safeParse of every exported schema never throws on random JSON', ({ annotate }) => {
    const schemas = exportedSchemas();
    expect(schemas.length).toBeGreaterThan(50);
    const runs = Math.max(20, Math.floor(FUZZ_RUNS / 3));
    for (const [name, schema] of schemas) {
      fc.assert(fc.property(anyJson, (value) => {
        const result = schema.safeParse(value);
        expect(typeof result.success, name).toBe('boolean');
      }), { numRuns: runs });
    }
    void annotate(`${schemas.length} schemas × ${runs} random values: no throw`);
  });

  it('safeParse never throws on mutated valid samples of the boundary schemas', ({ annotate }) => {
    for (const [schema, sample] of BOUNDARY_SAMPLES) {
      expect(schema.safeParse(sample).success, JSON.stringify(sample)).toBe(true);
      fc.assert(fc.property(mutated(sample), (value) => void schema.safeParse(value)), { numRuns: FUZZ_RUNS });
    }
    void annotate(`${BOUNDARY_SAMPLES.length} schemas × ${FUZZ_RUNS} mutations: no throw`);
  });

  it('control message decoding: random text and mutated messages end in a message or MESSAGE_MALFORMED / MESSAGE_UNKNOWN_TYPE', ({ annotate }) => {
    const allowed = ['MESSAGE_MALFORMED', 'MESSAGE_UNKNOWN_TYPE'];
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (text) => coded(() => parseControlMessage(text), allowed)), { numRuns: FUZZ_RUNS });
    fc.assert(fc.property(anyJson, (value) => coded(() => parseControlMessage(JSON.stringify(value) ?? 'null'), allowed)), { numRuns: FUZZ_RUNS });
    for (const sample of CONTROL_SAMPLES) {
      expect(parseControlMessage(JSON.stringify(sample)).type).toBe((sample as { type: string }).type);
      fc.assert(fc.property(mutated(sample), (value) => coded(() => parseControlMessage(JSON.stringify(value) ?? 'null'), allowed)), { numRuns: FUZZ_RUNS });
    }
    // Deep nesting inside params must not overflow the stack of the channel's parser.
    coded(() => parseControlMessage(`{"type":"req","id":1,"method":"m","params":${'['.repeat(100_000)}${']'.repeat(100_000)}}`), allowed);
    void annotate('coded: MESSAGE_MALFORMED / MESSAGE_UNKNOWN_TYPE only');
  });

  it('HTTP error handler: any thrown value maps to a status and a code from the table', ({ annotate }) => {
    const thrown = fc.oneof(
      anyJson,
      fc.constantFrom(...Object.keys(protocol.ERRORS)).map((c) => new TetherError(c as protocol.ErrorCode)),
      fc.record({ code: fc.string({ maxLength: 30 }), statusCode: fc.integer({ min: 0, max: 999 }), message: fc.string() }),
      fc.string().map((m) => new RangeError(m)),
    );
    fc.assert(fc.property(thrown, (err) => {
      const { status, body } = errorBody(err);
      expect(isErrorCode(body.code)).toBe(true);
      expect(status).toBe(protocol.ERRORS[body.code].http);
    }), { numRuns: FUZZ_RUNS * 3 });
    void annotate('every thrown value → {code, message} with the table\'s status');
  });

  describe('handshake messages', () => {
    let ca: TestCa;
    let identity: TestCertifiedKey;
    let device: TestCertifiedKey;
    const deviceId = randomDeviceId();
    beforeAll(async () => {
      ca = await createTestCa();
      [identity, device] = await Promise.all([ca.issue(BACKEND_IDENTITY_CN), ca.issue(deviceId)]);
    });
    const server = () => new ServerHandshake({ identityCertPem: identity.certPem, identityKeyPem: identity.keyPem, caCertPem: ca.certPem });
    const client = () => new ClientHandshake({ deviceId, deviceCertPem: device.certPem, deviceKeyPem: device.keyPem, caCertPem: ca.certPem, caPin: caPin(ca.certPem) });

    it('hello, server_hello and client_auth: mutated messages end in a handshake code, never a crash', ({ annotate }) => {
      const runs = Math.max(50, Math.floor(FUZZ_RUNS / 3));
      const hello = client().hello() as unknown as Json;
      fc.assert(fc.property(fc.oneof(mutated(hello), anyJson), (value) => coded(() => server().onHello(value), ['PROTOCOL_VERSION', 'HANDSHAKE_FAILED'])), { numRuns: runs });

      const c = client();
      const serverHello = server().onHello(c.hello()).serverHello as unknown as Json;
      fc.assert(fc.property(mutated(serverHello), (value) => coded(() => client().onServerHello(value), ['PROTOCOL_VERSION', 'HANDSHAKE_FAILED', 'BACKEND_IDENTITY_INVALID', 'BAD_SIGNATURE'])), { numRuns: runs });

      const s = server();
      const fresh = client();
      const { auth } = fresh.onServerHello(s.onHello(fresh.hello()).serverHello);
      fc.assert(fc.property(mutated(auth as unknown as Json), (value) => {
        const again = server();
        const other = client();
        again.onHello(other.hello());
        coded(() => again.onClientAuth(value), ['HANDSHAKE_FAILED', 'CERT_INVALID', 'CERT_SUBJECT_MISMATCH', 'BAD_SIGNATURE']);
      }), { numRuns: runs });
      void annotate(`${runs * 3} mutated handshake messages: coded`);
    });
  });
});
