import { TetherError } from '../../protocol/index.js';

/**
 * `--nats` as nats.js connect options. nats.js takes credentials as options, not from the
 * URL, so `nats://user:password@host:4222` is split here (a password in the URL is the admin's
 * choice; TETHER_NATS_URL keeps it off the command line). Several servers: comma-separated,
 * the first URL with credentials gives them.
 */
export function natsConnectOptions(natsUrl: string): { servers: string[]; user?: string; pass?: string } {
  let user: string | undefined;
  let pass: string | undefined;
  const servers = natsUrl.split(',').map((s) => s.trim()).filter(Boolean).map((server) => {
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw new TetherError('BAD_REQUEST', `--nats must be nats://host:port URLs, not ${JSON.stringify(redactNatsUrl(server))}`);
    }
    if (url.protocol !== 'nats:' && url.protocol !== 'tls:') throw new TetherError('BAD_REQUEST', `--nats must be nats:// URLs, not ${url.protocol}//…`);
    if (url.username && user === undefined) {
      user = decodeURIComponent(url.username);
      pass = decodeURIComponent(url.password);
    }
    return `${url.protocol}//${url.host}`;
  });
  if (servers.length === 0) throw new TetherError('BAD_REQUEST', '--nats names no server');
  return { servers, ...(user !== undefined && { user, pass }) };
}

/** The URL(s) without passwords, for messages and logs. */
export function redactNatsUrl(natsUrl: string): string {
  return natsUrl.replace(/\/\/([^:@/,]*):[^@/,]*@/g, '//$1:***@');
}
