import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  FILE_MODE_HEADER,
  FILE_SHA256_HEADER,
  FILE_SIZE_HEADER,
  FileListing,
  FilePathQuery,
  FileResult,
  FileTransferParams,
  MAX_FILE_BYTES,
  TetherError,
  UploadQuery,
  headerListHas,
  UploadStatus,
  UploadStatusQuery,
  type Role,
  type User,
} from '../../protocol/index.js';
import { allowLongBody, endLongBody } from '../http/long-requests.js';
import type { FileService } from './file-service.js';

type ZodApi = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>;

export interface FileRouteDeps {
  files: FileService;
  /** auth plus the device's existence and the user's scope. */
  authDevice(request: FastifyRequest, role: Role, deviceId: string): { user: User };
}

/** Only `bytes=N-` (resume from N); anything else is refused rather than answered in full by surprise. */
/** How long a refused upload's connection keeps reading (and dropping) the body before it is closed. */
const LINGER_MS = 2_000;

/**
 * A lingering close for an upload refused before its body was read. The answer goes out while
 * the rest of the body is read and dropped, so a client still writing a large body reads the
 * answer (the code and message) instead of meeting a connection reset first; the connection is
 * closed if the body is still coming after LINGER_MS.
 */
function lingerThenClose(body: IncomingMessage): void {
  const timer = setTimeout(() => body.socket.destroy(), LINGER_MS);
  timer.unref();
  body.once('end', () => clearTimeout(timer));
  body.once('close', () => clearTimeout(timer));
  body.resume();
}

export function rangeStart(header: string | undefined): number {
  if (header === undefined) return 0;
  const match = /^bytes=(\d{1,16})-$/.exec(header.trim());
  if (!match) throw new TetherError('RANGE_NOT_SATISFIABLE', 'Only a range of the form bytes=N- is supported');
  return Number(match[1]);
}

const DownloadHeaders = z.object({ range: z.string().max(64).optional(), 'if-range': z.string().max(200).optional(), te: z.string().max(256).optional() });


/**
 * File transfer over HTTP (docs/files.md). Operators and admins only, scoped to the device's
 * groups: file names and contents are as sensitive as a shell. The upload body is the raw file
 * (any content type), read as a stream; the routes live in their own Fastify scope so that
 * taking raw bodies here does not change how the rest of the API treats content types.
 */
export async function registerFileRoutes(api: ZodApi, deps: FileRouteDeps): Promise<void> {
  await api.register(async (instance) => {
    const scope = instance.withTypeProvider<ZodTypeProvider>();
    scope.removeAllContentTypeParsers();
    // Not read here: the upload handler streams request.raw to the device.
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

    scope.get('/api/v1/devices/:id/files', { schema: { tags: ['files'], params: FileTransferParams, querystring: FilePathQuery, response: { 200: FileListing } } }, async (request) => {
      deps.authDevice(request, 'operator', request.params.id);
      return deps.files.list(request.params.id, request.query.path);
    });

    scope.get('/api/v1/devices/:id/files/upload', { schema: { tags: ['files'], params: FileTransferParams, querystring: UploadStatusQuery, response: { 200: UploadStatus } } }, async (request) => {
      deps.authDevice(request, 'operator', request.params.id);
      return deps.files.uploadStatus(request.params.id, request.query.path, request.query.transfer);
    });

    scope.put('/api/v1/devices/:id/files/content', { bodyLimit: MAX_FILE_BYTES, schema: { tags: ['files'], params: FileTransferParams, querystring: UploadQuery, response: { 200: FileResult } } }, async (request) => {
      const { user } = deps.authDevice(request, 'operator', request.params.id);
      const mode = request.query.mode === undefined ? undefined : parseInt(request.query.mode, 8);
      const socket = request.raw.socket;
      allowLongBody(socket);
      try {
        return await deps.files.upload(user, request.params.id, request.query, mode, request.raw);
      } catch (err) {
        if (!request.raw.complete) lingerThenClose(request.raw);
        throw err;
      } finally {
        endLongBody(socket);
      }
    });

    scope.get('/api/v1/devices/:id/files/content', { exposeHeadRoute: false, schema: { tags: ['files'], params: FileTransferParams, querystring: FilePathQuery, headers: DownloadHeaders } }, async (request, reply) => {
      const { user } = deps.authDevice(request, 'operator', request.params.id);
      const offset = rangeStart(request.headers.range);
      const ifRange = request.headers['if-range']?.trim();
      const { info, body, sha256 } = await deps.files.download(user, request.params.id, request.query.path, { offset, hashLast: headerListHas(request.headers.te, 'trailers'), ...(ifRange === undefined ? {} : { ifRange }) });
      // If-Range that is not this version's etag: the file changed since the client's first part, which it gets whole (RFC 9110 §13.1.5).
      const ranged = request.headers.range !== undefined && !(ifRange !== undefined && info.etag !== undefined && ifRange !== info.etag);
      const name = info.path.split('/').pop() ?? 'file';
      if (info.etag !== undefined) void reply.header('etag', info.etag);
      void reply
        .status(ranged ? 206 : 200)
        .header('content-type', 'application/octet-stream')
        .header('accept-ranges', 'bytes')
        .header('last-modified', new Date(info.modifiedAt).toUTCString())
        .header('content-disposition', `attachment; filename="${name.replace(/[^A-Za-z0-9._-]/g, '_')}"`)
        .header(FILE_SIZE_HEADER, String(info.size))
        .header(FILE_MODE_HEADER, info.mode.toString(8).padStart(4, '0'));
      // The hash first when the device had it; else as a trailer after the last byte (chunked, so no length).
      if (info.sha256 !== undefined) void reply.header(FILE_SHA256_HEADER, info.sha256).header('content-length', String(info.size - info.offset));
      else void reply.trailer(FILE_SHA256_HEADER, (_reply, _payload, done) => done(null, sha256() ?? ''));
      if (ranged) void reply.header('content-range', info.offset < info.size ? `bytes ${info.offset}-${info.size - 1}/${info.size}` : `bytes */${info.size}`);
      return reply.send(body);
    });
  });
}
