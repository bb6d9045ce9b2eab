import { z } from 'zod';
import { DeviceId } from './control.js';
import { StreamId } from './shell.js';

/**
 * File transfer (ARCHITECTURE §5 "Files and forwards"): listing, upload and download of device
 * paths. File bytes ride the control channel's streams as raw sealed frames; these schemas are the
 * JSON around them. Paths are absolute device paths; the agent confines them to its allowed roots.
 */

/** An absolute device path: no NUL, bounded. Lexical checks only; the agent resolves and confines it. */
export const DevicePath = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^\//, 'an absolute path')
  .refine((p) => !p.includes('\0'), 'no NUL character');
export type DevicePath = z.infer<typeof DevicePath>;

/**
 * Names one upload across interruptions: the same id, path and content resume into the same part
 * file on the device (`.<name>.tether-<id>.part`). Clients derive it from the local file's name,
 * size and modification time (see {@link uploadTransferSeed}).
 */
export const TransferId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'transfer id: 8-64 of A-Z a-z 0-9 _ -');
/**
 * What a client hashes (SHA-256, hex) to name an upload: the first {@link UPLOAD_TRANSFER_ID_CHARS}
 * hex digits are the transfer id. The same device path and the same local file (name, size, and
 * modification time in whole milliseconds, as a browser's `File.lastModified` has it) give the
 * same id, so the CLI and the console resume each other's uploads, and the id is known before
 * the file is read: `tether cp` hashes the content while sending it. A file changed without its
 * size or time changing would resume into the wrong part file; the device's check of the
 * whole-file SHA-256 at the commit then refuses it (CHECKSUM_MISMATCH) and nothing is kept.
 * The hash itself is the client's (Node's crypto, Web Crypto): this module imports nothing.
 */
export function uploadTransferSeed(deviceId: string, path: string, file: { name: string; size: number; modifiedAtMs: number }): string {
  return `${deviceId}\n${path}\n${file.name}\n${file.size}\n${Math.floor(file.modifiedAtMs)}`;
}
export const UPLOAD_TRANSFER_ID_CHARS = 32;
/**
 * A file changed this shortly before it is read could change again within its file system's
 * timestamp granularity (FAT's is 2 s) without its times showing it. Such a file is hashed before
 * it is sent; one at rest longer is hashed while sent, its times checked again after the last byte.
 */
export const FILE_SETTLED_MS = 2_000;
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'SHA-256 as 64 lower-case hex digits');
/** Largest file a transfer may carry (1 TiB): a bound, not a promise. */
export const MAX_FILE_BYTES = 2 ** 40;
const FileSize = z.number().int().min(0).max(MAX_FILE_BYTES);
/** Permission bits (with setuid/setgid/sticky), as `chmod` takes them. */
export const FileMode = z.number().int().min(0).max(0o7777);
const Owner = z.number().int().min(0).max(0xffffffff);

export const FileEntryType = z.enum(['file', 'directory', 'symlink', 'other']);
export const FileEntry = z.object({
  name: z.string().max(4096),
  type: FileEntryType,
  size: z.number().int().min(0),
  /** Permission bits. */
  mode: FileMode,
  /** Last modification, ms since the epoch. */
  modifiedAt: z.number(),
});
export type FileEntry = z.infer<typeof FileEntry>;

/** Most entries one listing returns; `truncated` says there were more. */
export const FILE_LIST_MAX_ENTRIES = 10_000;

export const FileListing = z.object({
  /** The directory as resolved on the device (symlinks inside the roots followed). */
  path: DevicePath,
  entries: z.array(FileEntry).max(FILE_LIST_MAX_ENTRIES),
  truncated: z.boolean(),
});
export type FileListing = z.infer<typeof FileListing>;

/** What a finished upload wrote, and what a download carries. */
export const FileResult = z.object({ path: DevicePath, size: FileSize, sha256: Sha256Hex });
export type FileResult = z.infer<typeof FileResult>;

/**
 * Flow control of file streams: the sender pauses at FILE_WINDOW_HIGH_BYTES unacknowledged and
 * resumes at FILE_WINDOW_LOW_BYTES, so a 1 GB transfer holds at most a few MB in the backend and
 * the agent. Wider than the shell's window: files are bulk, and throughput is the window over the
 * round trip.
 */
export const FILE_WINDOW_HIGH_BYTES = 4 * 1024 * 1024;
export const FILE_WINDOW_LOW_BYTES = 2 * 1024 * 1024;
/**
 * Largest stream frame of file data, both ways: the agent reads downloads in chunks of this size,
 * and the backend joins an upload's request body (which arrives in 16 KB pieces, one per TLS
 * record) into frames of up to this size, so each frame's seal, socket write and ack is paid per
 * 256 KB rather than per 16 KB.
 */
export const FILE_FRAME_BYTES = 256 * 1024;
/** Acks are sent once this much is consumed (or after FILE_ACK_DELAY_MS), never per frame. */
export const FILE_ACK_BATCH_BYTES = 256 * 1024;
export const FILE_ACK_DELAY_MS = 20;

const Ack = z.object({ streamId: StreamId, bytes: z.number().int().min(1).max(64 * 1024 * 1024) });
const Failure = z.object({ code: z.string().max(64), message: z.string().max(4096) });

/** Backend → agent requests of file transfer (merged into AGENT_METHODS). */
export const FILE_AGENT_METHODS = {
  'file.list': {
    params: z.object({ path: DevicePath }),
    result: FileListing,
  },
  /** How many bytes of an interrupted upload the device holds (0 when none). */
  'file.upload.status': {
    params: z.object({ path: DevicePath, transferId: TransferId }),
    result: z.object({ offset: FileSize }),
  },
  /**
   * Opens (or resumes) an upload: the bytes the backend then sends on `streamId` are the file from
   * `offset`. The device must already hold `offset` bytes of this transfer (TRANSFER_OFFSET otherwise).
   */
  'file.upload.open': {
    params: z.object({
      streamId: StreamId,
      path: DevicePath,
      transferId: TransferId,
      offset: FileSize,
      /** The whole file's size: checked against free space before a byte is sent. */
      size: FileSize,
      mode: FileMode.optional(),
      uid: Owner.optional(),
      gid: Owner.optional(),
    }),
    result: z.object({ offset: FileSize }),
  },
  /** Every byte was sent: the device checks size and SHA-256, fsyncs and renames into place. */
  'file.upload.commit': {
    params: z.object({ streamId: StreamId, size: FileSize, sha256: Sha256Hex }),
    result: FileResult,
  },
  /** The upload stops here; its part file stays for a resume. */
  'file.upload.close': {
    params: z.object({ streamId: StreamId }),
    result: z.object({ closed: z.boolean() }),
  },
  /**
   * Opens a file for download: answers its size, mode and whole-file SHA-256 (computed before the
   * first byte is sent), then sends the bytes from `offset` on `streamId`, ending with `file.download.end`.
   * With `hashLast` (a client that reads HTTP trailers) the device may leave the SHA-256 out of
   * its answer and hash the file as it sends it instead: the hash then comes in `file.download.end`,
   * and the file is read once, not twice. It still answers the hash first when it remembers it, or
   * when the file changed too recently for a change during the send to show in its times.
   * `etag` names this version of the file (device, inode, size, modification and change times).
   * With `ifRange` (a client's HTTP If-Range) that is not the file's `etag`, the file changed since
   * the client's first part: the device sends it whole, from 0, and `offset` says so.
   */
  'file.download.open': {
    params: z.object({ streamId: StreamId, path: DevicePath, offset: FileSize, hashLast: z.boolean().optional(), ifRange: z.string().max(200).optional() }),
    result: FileResult.extend({ sha256: Sha256Hex.optional(), mode: FileMode, modifiedAt: z.number(), etag: z.string().max(200).optional(), offset: FileSize.optional() }),
  },
  'file.download.close': {
    params: z.object({ streamId: StreamId }),
    result: z.object({ closed: z.boolean() }),
  },
} as const;

/** Agent → backend events of file transfer (merged into AGENT_EVENTS). */
export const FILE_AGENT_EVENTS = {
  /** Upload: `bytes` more were written to the part file (the backend's flow-control credit). */
  'file.written': Ack,
  /** Upload: writing failed (NO_SPACE, …); the part file is gone. */
  'file.failed': z.object({ streamId: StreamId, error: Failure }),
  /**
   * Download: every byte was sent (`error` absent) or sending stopped. `sha256`: the whole file's,
   * when it was hashed while sent (`hashLast`); FILE_CHANGED when the file changed meanwhile.
   */
  'file.download.end': z.object({ streamId: StreamId, bytes: FileSize, sha256: Sha256Hex.optional(), error: Failure.optional() }),
} as const;

/** Backend → agent events: the download's client has taken `bytes` more. */
export const FILE_BACKEND_EVENTS = {
  'file.ack': Ack,
} as const;

// ── HTTP API ──

export const FilePathQuery = z.object({ path: DevicePath });

export const UploadStatusQuery = z.object({ path: DevicePath, transfer: TransferId });
export const UploadStatus = z.object({ offset: FileSize });
export type UploadStatus = z.infer<typeof UploadStatus>;

/** Query of `PUT /api/v1/devices/{id}/files/content`; the body is the file from `offset` (application/octet-stream). */
export const UploadQuery = z.object({
  path: DevicePath,
  transfer: TransferId,
  offset: z.coerce.number().pipe(FileSize).default(0),
  /** The whole file's size. */
  size: z.coerce.number().pipe(FileSize),
  /**
   * The whole file's SHA-256: the device compares it with what it wrote. Absent when the client
   * sends it as the request's `x-tether-sha256` trailer instead (a chunked body), having hashed
   * the file while sending it.
   */
  sha256: Sha256Hex.optional(),
  /** Octal permission bits, e.g. `0644` (default: the agent user's umask). */
  mode: z.string().regex(/^0?[0-7]{3,4}$/, 'octal mode, e.g. 0644').optional(),
  uid: z.coerce.number().pipe(Owner).optional(),
  gid: z.coerce.number().pipe(Owner).optional(),
});
export type UploadQuery = z.infer<typeof UploadQuery>;

/**
 * Response headers of a download: the whole file's SHA-256 and size (also on a ranged answer). A
 * client that sends `TE: trailers` may get the SHA-256 as a trailer of the same name instead (the
 * device hashed the file while sending it; the answer is chunked, without a content length).
 */
export const FILE_SHA256_HEADER = 'x-tether-sha256';
export const FILE_SIZE_HEADER = 'x-tether-size';

/** Whether a comma-separated header (`TE`, `Trailer`) lists `token` (case-insensitive, parameters ignored). */
export function headerListHas(value: string | string[] | undefined, token: string): boolean {
  const wanted = token.toLowerCase();
  return [value ?? []].flat().some((line) => line.split(',').some((part) => part.split(';')[0]?.trim().toLowerCase() === wanted));
}
export const FILE_MODE_HEADER = 'x-tether-mode';

export const FileTransferParams = z.object({ id: DeviceId });
