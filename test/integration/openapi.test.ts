import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPI } from 'openapi-types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, cleanup, login, startBackend, type Backend } from '../harness.js';

interface Operation { summary?: string; tags?: string[]; responses: Record<string, { content?: Record<string, { schema: unknown }> }> }
interface Document { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } }

describe('the API document and its reference page', () => {
  let backend: Backend;
  let admin = '';

  beforeAll(async () => {
    backend = await startBackend();
    admin = await login(backend);
  });
  afterAll(async () => {
    await backend.stop();
    cleanup(backend.home);
  });

  it('is a valid OpenAPI document with every $ref resolved', async () => {
    const res = await api(backend, 'GET', '/api/v1/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body as Document;
    // validate and dereference mutate their argument: each gets its own copy.
    const copy = () => structuredClone(res.body) as OpenAPI.Document;
    await expect(SwaggerParser.validate(copy())).resolves.toBeTruthy();
    // JSON values are recursive, so the dereferenced document is a cyclic object: it must resolve, not print.
    await expect(SwaggerParser.dereference(copy())).resolves.toBeTruthy();
    const refs = new Set<string>();
    JSON.stringify(doc, (key, value: unknown) => {
      if (key === '$ref' && typeof value === 'string') refs.add(value);
      return value;
    });
    const components = doc.components.schemas;
    expect([...refs].filter((ref) => !Object.hasOwn(components, ref.replace('#/components/schemas/', '')))).toEqual([]);
    expect([...refs]).toEqual(expect.arrayContaining(['#/components/schemas/JsonValue', '#/components/schemas/Error']));
  });

  it('gives every operation a summary, a tag and its error answers as {code, message}', async () => {
    const doc = (await api(backend, 'GET', '/api/v1/openapi.json')).body as Document;
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op })));
    expect(operations.length).toBeGreaterThan(50);
    const problems: string[] = [];
    for (const { key, op } of operations) {
      if (!op.summary) problems.push(`${key}: no summary`);
      if (!op.tags?.length) problems.push(`${key}: no tag`);
      const errors = Object.keys(op.responses).filter((status) => Number(status) >= 400);
      for (const want of ['400', '500']) if (!errors.includes(want)) problems.push(`${key}: no ${want}`);
      for (const status of errors) {
        const schema = op.responses[status]?.content?.['application/json']?.schema;
        if (JSON.stringify(schema) !== JSON.stringify({ $ref: '#/components/schemas/Error' })) problems.push(`${key} ${status}: not the Error schema`);
      }
    }
    expect(problems).toEqual([]);
    const loginOp = doc.paths['/api/v1/auth/login']?.post as Operation & { security?: unknown[] };
    expect(loginOp.security).toEqual([]);
    expect(Object.keys(doc.paths['/api/v1/devices/{id}']?.get?.responses ?? {})).toEqual(expect.arrayContaining(['401', '403', '404']));
  });

  it('serves the rendered reference to admins at /api/docs, with its assets, under the console CSP', async () => {
    expect((await api(backend, 'GET', '/api/docs')).body).toMatchObject({ code: 'UNAUTHORIZED' });
    const page = await api(backend, 'GET', '/api/docs', { token: admin });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    const html = String(page.body);
    expect(html).toContain('<div id="swagger-ui">');
    // No inline script the CSP would block: every <script> has a src.
    expect(html.match(/<script(?![^>]*\bsrc=)[^>]*>/g)).toBeNull();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => new URL(m[1] ?? '', `${backend.url}/api/docs`).pathname);
    expect(assets).toEqual(expect.arrayContaining(['/api/docs/static/swagger-ui-bundle.js', '/api/docs/static/swagger-initializer.js', '/api/docs/static/swagger-ui.css']));
    for (const asset of assets) expect((await api(backend, 'GET', asset, { token: admin })).status, asset).toBe(200);
    // The page reads the same document as /api/v1/openapi.json.
    const shown = await api(backend, 'GET', '/api/docs/json', { token: admin });
    expect(shown.body).toEqual((await api(backend, 'GET', '/api/v1/openapi.json')).body);
  });
});
