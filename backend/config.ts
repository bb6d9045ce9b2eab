import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { TetherError } from '../protocol/index.js';
import type { ControlChannelLimits } from './agents/control-gateway.js';
import type { ClusterConfig } from './cluster/cluster-node.js';
import type { MonitoringConfig } from './metrics/monitoring.js';
import type { ShellLimits } from './shell/shell-service.js';

export interface BackendConfig {
  home: string;
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** The URL agents and browsers reach the backend at; defaults to https://<host>:<port>. */
  publicUrl?: string;
  consoleDir: string;
  /** Password of the first admin, created when there is no user yet; generated when absent. */
  adminPassword?: string;
  control?: Partial<ControlChannelLimits>;
  /** Remote shell idle timeout, resume grace and recording retention. */
  shell?: Partial<ShellLimits>;
  /** Retention, ingest flush and job intervals of metrics, logs and alerts. */
  monitoring?: MonitoringConfig;
  /** postgres://…: keep state in PostgreSQL instead of SQLite files in the home. */
  databaseUrl?: string;
  /** Folder of the agent bundle served to devices (default dist/agent, built on first download). */
  agentDistDir?: string;
  /** Run as a node of a cluster (NATS + the shared PostgreSQL of `databaseUrl`); alone when unset. */
  cluster?: ClusterConfig;
  /**
   * Addresses and CIDRs (comma-separated) of load balancers whose connections start with a PROXY
   * protocol header carrying the client's address (docs/cluster.md); off when unset.
   */
  proxyProtocolFrom?: string;
}

/** Parses `HOST:PORT` (IPv6 in brackets); BAD_REQUEST on anything else. */
export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[^:[\]]+):(\d{1,5})$/.exec(listen.trim());
  const port = Number(match?.[2]);
  if (!match?.[1] || !Number.isInteger(port) || port > 65535) {
    throw new TetherError('BAD_REQUEST', `--listen must be HOST:PORT, e.g. 0.0.0.0:8443, not ${JSON.stringify(listen)}`);
  }
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/** Names the TLS certificate must cover: the listen host, the public URL's host and this machine's name. */
export function certificateHostnames(config: Pick<BackendConfig, 'host' | 'publicUrl'>): string[] {
  const names = new Set<string>([hostname().toLowerCase()]);
  if (config.host !== '0.0.0.0' && config.host !== '::') names.add(config.host);
  if (config.publicUrl) names.add(new URL(config.publicUrl).hostname);
  return [...names];
}

export const DEFAULT_CONSOLE_DIR = resolve(import.meta.dirname, '../renderer/dist');
