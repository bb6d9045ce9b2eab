import { z } from 'zod';
import { CaPin } from './api.js';
import { DeviceId } from './control.js';
import { isErrorCode, type ErrorCode } from './errors.js';
import { ForwardHost, ForwardPort } from './forward.js';

/**
 * The desktop shell's contracts: its files on disk (backend profiles, window state) and the one
 * definition of the typed bridge between the console page and the Electron main process. The
 * preload derives the page's `DesktopApi` from {@link DESKTOP_API} and the main process derives
 * its checked handlers from the same table (VS Code's ProxyChannel idea), so the two sides
 * cannot drift apart.
 */

export const ProfileId = z.string().regex(/^prof_[a-z0-9]{8,32}$/, 'profile id');
export type ProfileId = z.infer<typeof ProfileId>;

/** A backend's address: https, a host and maybe a port, nothing else (no path, query or credentials). */
export const BackendUrl = z
  .string()
  .max(2048)
  .transform((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a URL' });
      return z.NEVER;
    }
    if (url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: 'a backend URL is https://' });
    if (url.username !== '' || url.password !== '') ctx.addIssue({ code: 'custom', message: 'a backend URL carries no credentials' });
    if (url.pathname !== '/' || url.search !== '' || url.hash !== '') ctx.addIssue({ code: 'custom', message: 'a backend URL is an origin: https://host[:port]' });
    return url.origin;
  });

export const NewBackendProfile = z.strictObject({
  name: z.string().trim().min(1).max(80),
  url: BackendUrl,
  caPin: CaPin,
});
export type NewBackendProfile = z.infer<typeof NewBackendProfile>;

export const BackendProfile = z.strictObject({
  id: ProfileId,
  name: z.string().trim().min(1).max(80),
  url: BackendUrl,
  caPin: CaPin,
});
export type BackendProfile = z.infer<typeof BackendProfile>;

export const MAX_PROFILES = 50;

/** `profiles.json` under Electron's userData directory. */
export const ProfilesFile = z
  .strictObject({
    version: z.literal(1),
    activeId: ProfileId.nullable(),
    profiles: z.array(BackendProfile).max(MAX_PROFILES),
  })
  .refine((file) => new Set(file.profiles.map((p) => p.id)).size === file.profiles.length, 'profile ids repeat')
  .refine((file) => file.activeId === null || file.profiles.some((p) => p.id === file.activeId), 'the active profile is not in the list');
export type ProfilesFile = z.infer<typeof ProfilesFile>;

/** `window-state.json`: where the console window was, restored (and clamped to a display) at start. */
export const WindowState = z.strictObject({
  x: z.number().int().min(-100_000).max(100_000),
  y: z.number().int().min(-100_000).max(100_000),
  width: z.number().int().min(1).max(100_000),
  height: z.number().int().min(1).max(100_000),
  maximized: z.boolean(),
});
export type WindowState = z.infer<typeof WindowState>;

export const ProfileList = z.strictObject({ profiles: z.array(BackendProfile), activeId: ProfileId.nullable() });
export type ProfileList = z.infer<typeof ProfileList>;

/**
 * Where the session token lives. `memory`: the OS offers no encryption (Linux without a keyring),
 * so the token is not written to disk and the user signs in again after a restart.
 */
export const SessionStatus = z.strictObject({ signedIn: z.boolean(), storage: z.enum(['encrypted', 'memory']) });
export type SessionStatus = z.infer<typeof SessionStatus>;

/** The active backend as the page needs it for WebSockets (HTTP goes through the app's own origin). */
export const BackendEndpoint = z.strictObject({ profileId: ProfileId, name: z.string(), httpOrigin: z.string(), wsOrigin: z.string() });
export type BackendEndpoint = z.infer<typeof BackendEndpoint>;

export const DesktopNotification = z.strictObject({ title: z.string().min(1).max(120), body: z.string().max(500) });
export type DesktopNotification = z.infer<typeof DesktopNotification>;

/** A TCP forward the desktop app listens for (`tether forward` in the app; docs/forwarding.md). */
export const DesktopForwardRequest = z.strictObject({
  deviceId: DeviceId,
  /** 0: a free port. The listener binds to the loopback. */
  localPort: z.number().int().min(0).max(65535),
  host: ForwardHost,
  remotePort: ForwardPort,
});
export type DesktopForwardRequest = z.infer<typeof DesktopForwardRequest>;

/** One active forward of the desktop app, as the device page lists it. */
export const DesktopForward = z.strictObject({
  id: z.string().uuid(),
  deviceId: DeviceId,
  bind: z.string(),
  localPort: z.number().int(),
  host: z.string(),
  remotePort: z.number().int(),
  /** Open now / since it started. */
  connections: z.number().int().nonnegative(),
  totalConnections: z.number().int().nonnegative(),
  /** From the device / to the device, all connections together. */
  bytesIn: z.number().nonnegative(),
  bytesOut: z.number().nonnegative(),
  /** The code the last failed connection ended with. */
  lastError: z.string().nullable(),
});
export type DesktopForward = z.infer<typeof DesktopForward>;

interface Operation {
  readonly args: z.ZodTuple;
  readonly result: z.ZodType;
}

const op = <A extends z.ZodTuple, R extends z.ZodType>(args: A, result: R) => ({ args, result });
const none = z.tuple([]);

/** Every operation the page may ask of the desktop shell, by group; one IPC channel each. */
export const DESKTOP_API = {
  profiles: {
    list: op(none, ProfileList),
    add: op(z.tuple([NewBackendProfile]), BackendProfile),
    remove: op(z.tuple([ProfileId]), z.null()),
    /** Makes the profile active; the shell then reloads its windows against that backend. */
    select: op(z.tuple([ProfileId]), z.null()),
  },
  session: {
    status: op(none, SessionStatus),
    /** Forgets the active profile's token (the page logs out through the API as usual). */
    clear: op(none, z.null()),
  },
  backend: {
    endpoint: op(none, BackendEndpoint.nullable()),
  },
  notifications: {
    show: op(z.tuple([DesktopNotification]), z.null()),
  },
  terminal: {
    popOut: op(z.tuple([DeviceId]), z.null()),
  },
  /** TCP forwards listened for by the main process (a page cannot listen on ports). */
  forwards: {
    list: op(z.tuple([DeviceId]), z.array(DesktopForward)),
    start: op(z.tuple([DesktopForwardRequest]), DesktopForward),
    stop: op(z.tuple([z.string().uuid()]), z.null()),
  },
} as const satisfies Record<string, Record<string, Operation>>;

type DesktopApiTable = typeof DESKTOP_API;
export type DesktopGroup = keyof DesktopApiTable;

/** The page's view of the bridge: one async function per operation, typed from the schemas. */
export type DesktopApi = {
  readonly [G in keyof DesktopApiTable]: {
    readonly [O in keyof DesktopApiTable[G]]: DesktopApiTable[G][O] extends { args: infer A extends z.ZodTuple; result: infer R extends z.ZodType }
      ? (...args: z.input<A>) => Promise<z.output<R>>
      : never;
  };
};

/** What the main process implements: the same operations, with arguments already parsed. */
export type DesktopHandlers = {
  readonly [G in keyof DesktopApiTable]: {
    readonly [O in keyof DesktopApiTable[G]]: DesktopApiTable[G][O] extends { args: infer A extends z.ZodTuple; result: infer R extends z.ZodType }
      ? (...args: z.output<A>) => Promise<z.input<R>> | z.input<R>
      : never;
  };
};

/** The IPC channel of one operation. */
export const desktopChannel = (group: string, operation: string): string => `tether-desktop:${group}.${operation}`;

/** Every operation with its channel, for the two sides to iterate. */
export function desktopOperations(): Array<{ group: string; operation: string; channel: string; args: z.ZodTuple; result: z.ZodType }> {
  return Object.entries(DESKTOP_API).flatMap(([group, operations]) =>
    Object.entries(operations as Record<string, Operation>).map(([operation, { args, result }]) => ({ group, operation, channel: desktopChannel(group, operation), args, result })),
  );
}

/**
 * What crosses the IPC boundary back to the page. Electron flattens a thrown error into a
 * message string, so failures travel as values and keep their stable code.
 */
export const DesktopReply = z.union([
  z.strictObject({ ok: z.literal(true), value: z.unknown() }),
  z.strictObject({ ok: z.literal(false), code: z.string(), message: z.string() }),
]);
export type DesktopReply = z.infer<typeof DesktopReply>;

/** A failed desktop call on the page's side. */
export class DesktopError extends Error {
  constructor(
    readonly code: ErrorCode | 'BAD_RESPONSE',
    message: string,
  ) {
    super(message);
    this.name = 'DesktopError';
  }
}

/**
 * What the preload exposes: per operation, a function sending its arguments on its own channel
 * and resolving to the raw {@link DesktopReply}. It never throws across the context bridge,
 * which would strip an error's `code`; {@link desktopApiFromBridge} turns replies into values
 * or {@link DesktopError}s on the page's side.
 */
export type DesktopBridge = {
  readonly [G in keyof DesktopApiTable]: { readonly [O in keyof DesktopApiTable[G]]: (...args: unknown[]) => Promise<unknown> };
};

/** Built in the preload from one `invoke(channel, args)` (`ipcRenderer.invoke`). */
export function createDesktopBridge(invoke: (channel: string, args: unknown[]) => Promise<unknown>): DesktopBridge {
  const bridge: Record<string, Record<string, (...args: unknown[]) => Promise<unknown>>> = {};
  for (const { group, operation, channel } of desktopOperations()) {
    (bridge[group] ??= {})[operation] = async (...args: unknown[]) => {
      try {
        return await invoke(channel, args);
      } catch (error) {
        return { ok: false, code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
      }
    };
  }
  return bridge as DesktopBridge;
}

/**
 * The page's typed {@link DesktopApi} over the preload's bridge. Arguments are checked before
 * sending (the main process checks them again: it trusts nothing from the page) and answers
 * parsed after, so a broken main process shows up as BAD_RESPONSE rather than as a wrong value.
 */
export function desktopApiFromBridge(bridge: unknown): DesktopApi {
  const api: Record<string, Record<string, (...args: unknown[]) => Promise<unknown>>> = {};
  const table = bridge as Record<string, Record<string, unknown> | undefined>;
  for (const { group, operation, args: argsSchema, result } of desktopOperations()) {
    const send = table[group]?.[operation];
    (api[group] ??= {})[operation] = async (...args: unknown[]) => {
      if (typeof send !== 'function') throw new DesktopError('BAD_RESPONSE', `${group}.${operation}: this desktop shell does not offer it`);
      const parsedArgs = argsSchema.safeParse(args);
      if (!parsedArgs.success) throw new DesktopError('BAD_REQUEST', `${group}.${operation}: ${parsedArgs.error.issues[0]?.message ?? 'bad arguments'}`);
      const reply = DesktopReply.safeParse(await (send as (...a: unknown[]) => Promise<unknown>)(...args));
      if (!reply.success) throw new DesktopError('BAD_RESPONSE', `${group}.${operation}: the desktop shell answered out of contract`);
      if (!reply.data.ok) throw new DesktopError(isErrorCode(reply.data.code) ? reply.data.code : 'BAD_RESPONSE', reply.data.message);
      const value = result.safeParse(reply.data.value);
      if (!value.success) throw new DesktopError('BAD_RESPONSE', `${group}.${operation}: the desktop shell answered out of contract`);
      return value.data;
    };
  }
  return api as unknown as DesktopApi;
}

export { DESKTOP_GLOBAL } from './desktop-global.js';

/** `session-tokens.json`: each profile's session token, encrypted by the OS keychain (base64 of the cipher text). */
export const TokensFile = z.strictObject({
  version: z.literal(1),
  tokens: z.record(ProfileId, z.string().regex(/^[A-Za-z0-9+/]{1,8192}={0,2}$/, 'base64')),
});
export type TokensFile = z.infer<typeof TokensFile>;
