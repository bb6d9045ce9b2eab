import type { Logger } from 'pino';
import type { RpcPeer } from '../../channel/rpc.js';
import { TetherError } from '../../protocol/errors.js';
import { AGENT_METHODS, type AgentMethod, type AgentParams } from '../../protocol/methods.js';
import { SHELL_BACKEND_EVENTS } from '../../protocol/shell.js';
import { CommandRunner } from '../commands/command-runner.js';
import { PtySessions } from './pty-sessions.js';
import type { ShellConfig } from './shell-config.js';
import { FORWARD_BACKEND_EVENTS } from '../../protocol/forward.js';
import { ForwardAllowList } from '../forward/allow-list.js';
import { TcpForwards } from '../forward/tcp-forwards.js';

export interface RemoteAccessOptions {
  config: ShellConfig;
  send(streamId: number, data: Uint8Array): boolean;
  log: Logger;
  /** The forward allow-list in force (default: the loopback). */
  forwardAllowList?: () => ForwardAllowList;
}

function parse<M extends AgentMethod>(method: M, params: unknown): AgentParams<M> {
  const parsed = AGENT_METHODS[method].params.safeParse(params);
  if (!parsed.success) throw new TetherError('BAD_REQUEST', `${method}: ${parsed.error.issues[0]?.message ?? 'bad params'}`);
  return parsed.data as AgentParams<M>;
}

/**
 * Shells and commands of this agent, living across control connections: each new connection's
 * RPC peer gets the handlers. A dropped connection ends every forward, since their stream ids
 * belonged to that link; shells and runs wait a while for their backend to reattach them.
 */
export class RemoteAccess {
  readonly shells: PtySessions;
  readonly commands: CommandRunner;
  readonly forwards: TcpForwards;
  private rpc: RpcPeer | null = null;

  constructor(opts: RemoteAccessOptions) {
    this.shells = new PtySessions({
      config: opts.config,
      send: opts.send,
      log: opts.log,
      emitExit: (streamId, exitCode, signal) => this.rpc?.emit('shell.exit', { streamId, exitCode, signal }),
    });
    this.commands = new CommandRunner({
      send: opts.send,
      log: opts.log,
      emitExit: (exit) => this.rpc?.emit('command.exit', exit),
    });
    const defaultAllowList = new ForwardAllowList();
    this.forwards = new TcpForwards({
      send: opts.send,
      log: opts.log,
      emit: (event) => this.rpc?.emit(event.name, event.data),
      allowList: opts.forwardAllowList ?? (() => defaultAllowList),
    });
  }

  register(rpc: RpcPeer): void {
    this.rpc = rpc;
    rpc.handle('shell.open', (p) => this.shells.open(parse('shell.open', p)));
    rpc.handle('shell.reattach', (p) => this.shells.reattach(parse('shell.reattach', p)));
    rpc.handle('shell.resize', (p) => this.shells.resize(parse('shell.resize', p)));
    rpc.handle('shell.close', (p) => ({ closed: this.shells.close(parse('shell.close', p).streamId) }));
    rpc.handle('command.start', (p) => this.commands.start(parse('command.start', p)));
    rpc.handle('command.reattach', (p) => this.commands.reattach(parse('command.reattach', p)));
    rpc.handle('command.cancel', (p) => ({ cancelled: this.commands.cancel(parse('command.cancel', p)) }));
    rpc.handle('forward.open', (p) => this.forwards.open(parse('forward.open', p)));
    rpc.handle('forward.close', (p) => ({ closed: this.forwards.close(parse('forward.close', p).streamId) }));
    rpc.onEvent((name, data) => {
      if (name === 'forward.ack') {
        const ack = FORWARD_BACKEND_EVENTS['forward.ack'].safeParse(data);
        if (ack.success) this.forwards.ack(ack.data.streamId, ack.data.bytes);
      } else if (name === 'forward.end') {
        const end = FORWARD_BACKEND_EVENTS['forward.end'].safeParse(data);
        if (end.success) this.forwards.end(end.data.streamId);
      }
    });
    rpc.onEvent((name, data) => {
      if (name !== 'shell.ack') return;
      const ack = SHELL_BACKEND_EVENTS['shell.ack'].safeParse(data);
      if (ack.success) this.shells.ack(ack.data.streamId, ack.data.bytes);
    });
  }

  /** PTY input from the backend. */
  onStream(streamId: number, data: Buffer): void {
    if (this.forwards.has(streamId)) return this.forwards.write(streamId, data);
    this.shells.write(streamId, data);
  }

  /**
   * The control channel dropped: shells and the backend's runs wait to be reattached, other
   * commands and forwards end (their streams belonged to that link).
   */
  onDisconnected(): void {
    this.rpc = null;
    this.shells.detachAll();
    this.commands.detachAll();
    this.forwards.closeAll();
  }

  /** The agent is stopping. */
  close(): void {
    this.onDisconnected();
    this.shells.closeAll();
    this.commands.cancelAll();
  }
}
