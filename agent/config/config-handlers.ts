import type { RpcPeer } from '../../channel/rpc.js';
import type { ConfigApplier } from './config-applier.js';

/** `config.apply`: the answer is the report (`applied`, `failed` or `rejected`), never an RPC error for a bad config. */
export function registerConfigHandlers(rpc: RpcPeer, applier: ConfigApplier): void {
  rpc.handle('config.apply', (params) => applier.apply(params));
}
