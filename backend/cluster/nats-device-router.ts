import { ErrorCode as NatsErrorCode, type Msg, type NatsConnection, type NatsError, type Subscription } from 'nats';
import type { Logger } from 'pino';
import { RpcError } from '../../channel/rpc.js';
import { ERRORS, missingCase, TetherError, type ErrorCode } from '../../protocol/index.js';
import type { DeviceEventListener, DeviceLink, DeviceRouter, LinkRegistry, LocalDeviceRouter } from '../devices/device-router.js';
import type { DeviceStream, StreamHandlers } from '../devices/link-streams.js';
import { clusterNames, DeviceEventMessage, DisconnectMessage, encode, errorOfReply, NodeMessage, NodeReply, OpenedStreamReply, parsePayload, replyOfError } from './bus-messages.js';
import { BusStreams } from './bus-streams.js';
import type { DeviceLocations } from './device-locations.js';

export interface NatsDeviceRouterDeps {
  nc: NatsConnection;
  prefix: string;
  nodeId: string;
  /** The links this node holds. */
  local: LocalDeviceRouter;
  /** Which node holds the others. */
  locations: DeviceLocations;
  log: Logger;
  /** A request's timeout when the caller gives none (the control channel's default). */
  defaultRequestTimeoutMs: number;
  /**
   * Closes this node's other connections of a device when any node disconnects it (a
   * revocation): control handshakes in flight, telemetry sockets. The router's own links are
   * closed by the router.
   */
  onDisconnect?(deviceId: string, code: ErrorCode): void;
}

/** Beyond the device's own timeout, how long a requester waits for the holding node's answer. */
const BUS_SLACK_MS = 2_000;
/** How long a node waits for the holder to open a stream on its link. */
const STREAM_OPEN_TIMEOUT_MS = 5_000;
/** Requests from other nodes being served at once; more are refused with RATE_LIMITED. */
const MAX_SERVED_REQUESTS = 10_000;

/**
 * The cluster's {@link DeviceRouter} (ARCHITECTURE §10): the links this node holds stay in a
 * {@link LocalDeviceRouter}; a device held by another node is reached over NATS.
 *
 * - `request`: request/reply on the holding node's subject; the holder runs it on its link and
 *   answers with the result or the error's code (kept, with the error's class).
 * - `publish`: one message per holding node with its device ids; the count is of the devices
 *   this node or a live presence entry says are connected (as locally, an emit is not acked).
 * - Device events are published to every node, which delivers them to its own subscribers.
 * - `disconnect` is broadcast: every node closes what it has of the device.
 * - `openStream` on another node's device asks the holder to open it on the link and carries
 *   its bytes over the bus both ways ({@link BusStreams}).
 */
export class NatsDeviceRouter implements DeviceRouter, LinkRegistry {
  private readonly names: ReturnType<typeof clusterNames>;
  private readonly subscriptions: Subscription[] = [];
  private served = 0;
  /** Streams between a link on one node and a feature on another. */
  readonly streams: BusStreams;

  constructor(private readonly deps: NatsDeviceRouterDeps) {
    this.names = clusterNames(deps.prefix);
    this.streams = new BusStreams({ nc: deps.nc, nodeId: deps.nodeId, subject: this.names.streams, local: deps.local, log: deps.log });
  }

  /** Starts serving this node's subjects; the locations must be started too. */
  start(): void {
    const { nc } = this.deps;
    this.subscriptions.push(
      nc.subscribe(this.names.node(this.deps.nodeId), { callback: (err, msg) => (err ? this.subscriptionFailed(err) : this.onNodeMessage(msg)) }),
      nc.subscribe(this.names.deviceEvents, { callback: (err, msg) => (err ? this.subscriptionFailed(err) : this.onDeviceEvent(msg)) }),
      nc.subscribe(this.names.disconnect, { callback: (err, msg) => (err ? this.subscriptionFailed(err) : this.onDisconnectMessage(msg)) }),
    );
    this.streams.start();
  }

  close(): void {
    this.streams.close();
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.subscriptions.length = 0;
  }

  // ── LinkRegistry (the control gateway) ──

  attach(deviceId: string, link: DeviceLink): void {
    this.deps.local.attach(deviceId, link);
    this.deps.locations.claim(deviceId);
  }

  detach(deviceId: string, link: DeviceLink): boolean {
    if (!this.deps.local.detach(deviceId, link)) return false;
    this.deps.locations.release(deviceId);
    return true;
  }

  deliver(deviceId: string, name: string, data: unknown): void {
    this.deps.local.deliver(deviceId, name, data);
    this.send(this.names.deviceEvents, { origin: this.deps.nodeId, deviceId, name, data });
  }

  // ── DeviceRouter ──

  isConnected(deviceId: string): boolean {
    return this.deps.local.isConnected(deviceId) || this.deps.locations.holder(deviceId) !== undefined;
  }

  connectedCount(): number {
    return this.deps.local.connectedCount() + this.deps.locations.remoteCount();
  }

  async request(deviceId: string, method: string, params: unknown, timeoutMs?: number): Promise<unknown> {
    const { local, locations } = this.deps;
    if (local.isConnected(deviceId)) return local.request(deviceId, method, params, timeoutMs);
    const holder = locations.holder(deviceId);
    if (holder === undefined) throw new TetherError('DEVICE_OFFLINE');
    return this.ask(holder, { type: 'request', deviceId, method, params, timeoutMs }, (timeoutMs ?? this.deps.defaultRequestTimeoutMs) + BUS_SLACK_MS);
  }

  publish(deviceIds: Iterable<string>, name: string, data: unknown): number {
    const { local, locations } = this.deps;
    const remote = new Map<string, string[]>();
    let sent = 0;
    for (const id of deviceIds) {
      if (local.isConnected(id)) {
        sent += local.publish([id], name, data);
        continue;
      }
      const holder = locations.holder(id);
      if (holder === undefined) continue;
      const ids = remote.get(holder);
      if (ids) ids.push(id);
      else remote.set(holder, [id]);
      sent++;
    }
    for (const [node, ids] of remote) this.send(this.names.node(node), { type: 'emit', deviceIds: ids, name, data } satisfies NodeMessage);
    return sent;
  }

  subscribe(deviceId: string | '*', listener: DeviceEventListener): () => void {
    return this.deps.local.subscribe(deviceId, listener);
  }

  disconnect(deviceId: string, code: ErrorCode): boolean {
    const here = this.disconnectHere(deviceId, code);
    const elsewhere = this.deps.locations.holder(deviceId) !== undefined;
    this.send(this.names.disconnect, { origin: this.deps.nodeId, deviceId, code });
    return here || elsewhere;
  }

  async openStream(deviceId: string, handlers: StreamHandlers): Promise<DeviceStream> {
    const { local, locations, nodeId } = this.deps;
    const holder = local.isConnected(deviceId) ? undefined : locations.holder(deviceId);
    if (holder === undefined) return local.openStream(deviceId, handlers);
    return this.streams.open(holder, deviceId, handlers, async (handle) => {
      const opened = OpenedStreamReply.safeParse(await this.ask(holder, { type: 'stream-open', deviceId, node: nodeId, handle }, STREAM_OPEN_TIMEOUT_MS));
      if (!opened.success) throw new TetherError('INTERNAL', 'The holding node sent a malformed answer');
      return opened.data;
    });
  }

  /**
   * Ends the streams across nodes whose other end is gone: viewed streams of devices their holder
   * no longer holds, and held streams of viewer nodes no longer in `alive` (when given).
   */
  sweepStreams(alive?: ReadonlySet<string>): void {
    this.streams.sweepViewers((deviceId) => this.deps.locations.holder(deviceId));
    if (alive) this.streams.sweepProxies(alive);
  }

  /** Sends a message to the node holding a device and returns its answer's result (or throws its error). */
  private async ask(holder: string, message: NodeMessage, timeoutMs: number): Promise<unknown> {
    let answer: Msg;
    try {
      answer = await this.deps.nc.request(this.names.node(holder), encode(message), { timeout: timeoutMs });
    } catch (err) {
      throw busError(err);
    }
    const reply = parsePayload(NodeReply, answer.data);
    if (!reply) throw new TetherError('INTERNAL', 'The holding node sent a malformed answer');
    if (reply.ok) return reply.result;
    throw errorOfReply(reply);
  }

  // ── from the bus ──

  private disconnectHere(deviceId: string, code: ErrorCode): boolean {
    const closed = this.deps.local.disconnect(deviceId, code);
    // The link is gone from the local router, so its close will not detach it: release here.
    if (closed) this.deps.locations.release(deviceId);
    this.deps.onDisconnect?.(deviceId, code);
    return closed;
  }

  private onNodeMessage(msg: Msg): void {
    const message = parsePayload(NodeMessage, msg.data);
    if (!message) {
      this.deps.log.warn({ subject: msg.subject }, 'malformed message from the cluster bus dropped');
      if (msg.reply) this.respond(msg, { ok: false, kind: 'tether', code: 'BAD_REQUEST', message: 'Malformed cluster message' });
      return;
    }
    switch (message.type) {
      case 'request': {
        if (this.served >= MAX_SERVED_REQUESTS) {
          this.respond(msg, replyOfError(new TetherError('RATE_LIMITED', 'Too many requests from other nodes in flight')));
          return;
        }
        this.served++;
        this.deps.local.request(message.deviceId, message.method, message.params, message.timeoutMs).then(
          (result) => this.respond(msg, { ok: true, result }),
          (err: unknown) => this.respond(msg, replyOfError(err)),
        ).finally(() => this.served--);
        return;
      }
      case 'emit':
        this.deps.local.publish(message.deviceIds, message.name, message.data);
        return;
      case 'stream-open':
        this.streams.serveOpen(message.deviceId, message.node, message.handle).then(
          (opened) => this.respond(msg, { ok: true, result: opened }),
          (err: unknown) => this.respond(msg, replyOfError(err)),
        );
        return;
      default:
        missingCase(message);
    }
  }

  private onDeviceEvent(msg: Msg): void {
    const event = parsePayload(DeviceEventMessage, msg.data);
    if (!event || event.origin === this.deps.nodeId) return;
    this.deps.local.deliver(event.deviceId, event.name, event.data);
  }

  private onDisconnectMessage(msg: Msg): void {
    const message = parsePayload(DisconnectMessage, msg.data);
    if (!message || message.origin === this.deps.nodeId) return;
    this.disconnectHere(message.deviceId, message.code as ErrorCode);
  }

  private respond(msg: Msg, reply: NodeReply): void {
    try {
      msg.respond(encode(reply));
    } catch (err) {
      // Too large for the bus (max_payload), or the connection is closing.
      this.deps.log.warn({ err }, 'answer to another node not sent');
      try {
        msg.respond(encode(replyOfError(new TetherError('PAYLOAD_TOO_LARGE', 'The answer is too large for the cluster bus'))));
      } catch {
        // The connection is gone: the requester times out.
      }
    }
  }

  /** Fire-and-forget; while NATS reconnects the client buffers, once it is closed this only logs. */
  private send(subject: string, value: unknown): void {
    try {
      this.deps.nc.publish(subject, encode(value));
    } catch (err) {
      this.deps.log.warn({ err, subject }, 'cluster message not sent');
    }
  }

  private subscriptionFailed(err: NatsError): void {
    this.deps.log.error({ err }, 'cluster subscription failed');
  }
}

/** A failed request on the bus, as the coded error the same failure has locally. */
function busError(err: unknown): Error {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  if (code === NatsErrorCode.Timeout) return new RpcError('REQUEST_TIMEOUT', ERRORS.REQUEST_TIMEOUT.message);
  // Nobody listens on the holder's subject any more: it died since its presence entry was written.
  if (code === NatsErrorCode.NoResponders) return new TetherError('DEVICE_OFFLINE');
  if (code === NatsErrorCode.MaxPayloadExceeded) return new TetherError('PAYLOAD_TOO_LARGE', 'The request is too large for the cluster bus');
  return new TetherError('BUS_UNAVAILABLE', undefined, { cause: err });
}
